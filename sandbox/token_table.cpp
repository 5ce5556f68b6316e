#include "token_table.h"

#include <openssl/rand.h>

#include <random>

namespace p2p::sandbox {

std::string TokenTable::Issue(Clock::time_point expires, std::string client) {
  unsigned char raw[24];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    std::random_device rd;
    for (unsigned char& b : raw) b = static_cast<unsigned char>(rd());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : raw) {
    token.push_back(kHex[b >> 4]);
    token.push_back(kHex[b & 15]);
  }
  std::lock_guard lock(mu_);
  if (tokens_.size() >= capacity_) {
    Clock::time_point now = Clock::now();
    for (auto it = tokens_.begin(); it != tokens_.end();) {
      it = it->second.expires <= now ? tokens_.erase(it) : std::next(it);
    }
    while (tokens_.size() >= capacity_ && !order_.empty()) {
      tokens_.erase(order_.front());
      order_.pop_front();
    }
  }
  if (order_.size() > 2 * capacity_) {  // drop names of tokens already erased
    std::deque<std::string> live;
    for (std::string& t : order_) {
      if (tokens_.count(t)) live.push_back(std::move(t));
    }
    order_.swap(live);
  }
  tokens_[token] = Entry{expires, std::move(client)};
  order_.push_back(token);
  return token;
}

bool TokenTable::Valid(std::string_view token, Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(std::string(token));
  return it != tokens_.end() && now < it->second.expires;
}

std::string TokenTable::ClientOf(std::string_view token) const {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(std::string(token));
  return it == tokens_.end() ? std::string() : it->second.client;
}

size_t TokenTable::size() const {
  std::lock_guard lock(mu_);
  return tokens_.size();
}

}  // namespace p2p::sandbox
