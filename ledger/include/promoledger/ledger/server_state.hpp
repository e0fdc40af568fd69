#pragma once
// Which server a session reaches and how far behind its primary it is, for serve's /healthz and the
// answers of its read node (--read-db). Kept apart from database.hpp, which nearly every file includes.
// Implemented in database.cpp, with the rest of the connection handling.

#include <cstdint>
#include <optional>
#include <string>

#include "promoledger/ledger/database.hpp"

namespace promoledger::ledger {

// What the server behind a session is now: for /healthz, and for the answers a read pool (serve
// --read-db) gives, which say how far behind the primary they are.
struct ServerState {
  std::string address;   // host:port, as server_address
  bool standby = false;  // in recovery: a standby (or a server restoring)
  // How far the server's data is behind its primary, in milliseconds (replica_lag_ms):
  //   0 on a primary, and on a standby whose WAL receiver runs and that has replayed all it received
  //     (an idle primary sends nothing, and the time of the last replayed commit then only says how
  //     long the primary has been idle, not how far behind the standby is);
  //   else now() - the commit time of the last transaction replayed: an upper bound (a standby that
  //     lost its primary, or one still replaying what it received);
  //   nullopt when a standby has replayed no transaction since it started (unknown).
  std::optional<std::int64_t> replica_lag_ms;
};
// One round trip. Throws DatabaseError when the session's connection fails.
ServerState server_state(soci::session& session);

}  // namespace promoledger::ledger
