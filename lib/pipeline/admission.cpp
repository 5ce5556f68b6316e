#include "pipeline/admission.h"

#include <utility>

namespace p2p::pipeline {

JobAdmission::JobAdmission(int capacity, Gauge* in_use, Gauge* waiting)
    : capacity_(capacity), in_use_gauge_(in_use), waiting_gauge_(waiting) {
  Publish();
}

int JobAdmission::AddPayer(std::function<void()> wake) {
  payers_.push_back(Payer{std::move(wake)});
  return static_cast<int>(payers_.size()) - 1;
}

bool JobAdmission::TryTake(int payer) {
  Payer& p = payers_[static_cast<size_t>(payer)];
  if (p.granted > 0) {
    --p.granted;
    --reserved_;
  } else if (!queue_.empty() || available() <= 0) {
    return false;
  }
  ++in_use_;
  Publish();
  return true;
}

void JobAdmission::Wait(int payer, int64_t deadline_s, int64_t now_ms) {
  Payer& p = payers_[static_cast<size_t>(payer)];
  if (p.waiting) {
    queue_.erase(Place{p.key, p.seq, payer});
  } else {
    p.waiting = true;
    p.since_ms = now_ms;
    p.seq = next_seq_++;
  }
  p.key = deadline_s * 1000 + kAgingFactor * p.since_ms;
  queue_.insert(Place{p.key, p.seq, payer});
  // A slot may be free (a payer withdrew a grant while this one was not yet in the queue).
  Grant();
}

void JobAdmission::Withdraw(int payer) {
  Payer& p = payers_[static_cast<size_t>(payer)];
  if (!p.waiting && p.granted == 0) return;
  if (p.waiting) {
    queue_.erase(Place{p.key, p.seq, payer});
    p.waiting = false;
  }
  reserved_ -= p.granted;
  p.granted = 0;
  Grant();
}

void JobAdmission::Release() {
  --in_use_;
  Grant();
}

void JobAdmission::SetCapacity(int capacity) {
  capacity_ = capacity;
  Grant();
}

void JobAdmission::Grant() {
  std::vector<int> woken;
  while (available() > 0 && !queue_.empty()) {
    const int payer = std::get<2>(*queue_.begin());
    queue_.erase(queue_.begin());
    Payer& p = payers_[static_cast<size_t>(payer)];
    p.waiting = false;
    ++p.granted;
    ++reserved_;
    woken.push_back(payer);
  }
  Publish();
  for (int payer : woken) {
    if (payers_[static_cast<size_t>(payer)].wake) payers_[static_cast<size_t>(payer)].wake();
  }
}

void JobAdmission::Publish() {
  if (in_use_gauge_ != nullptr) in_use_gauge_->Set(in_use_);
  if (waiting_gauge_ != nullptr) waiting_gauge_->Set(static_cast<double>(queue_.size()));
}

}  // namespace p2p::pipeline
