#include "state/sql.h"

namespace p2p::state {

Result<Stmt> Stmt::Prepare(Conn* conn, std::string_view sql) {
  auto impl = conn->Prepare(sql);
  if (!impl) return std::move(impl).error();
  Stmt st;
  st.impl_ = std::move(impl).value();
  return st;
}

Result<void> Stmt::Run(std::string_view what) {
  auto r = Step(what);
  Reset();
  if (!r) return std::move(r).error();
  return Ok();
}

Result<void> Transaction::Begin() {
  auto r = conn_->Begin();
  if (r) open_ = true;
  return r;
}

Result<void> Transaction::Commit() {
  auto r = conn_->Commit();
  if (r) open_ = false;
  return r;
}

}  // namespace p2p::state
