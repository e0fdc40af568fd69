// Operations: /healthz (the database answers) and /metrics (Prometheus text).
#include <nlohmann/json.hpp>

#include "routes.hpp"

namespace promoledger::service::detail {

using nlohmann::json;

void Service::healthz(const Request&, Response& res) {
  try {
    auto lease = health_db_.lease();
    int one = 0;
    *lease << "SELECT 1", soci::into(one);
    answer(res, 200, json{{"status", "ok"}});
  } catch (const std::exception&) {
    res.error = "database_unavailable";
    answer(res, 503, json{{"error", "database_unavailable"}, {"message", "the database does not answer"}});
  }
}

void Service::metrics_text(const Request&, Response& res) {
  Metrics::Gauges g;
  g.poster = group_.stats();
  g.pool_in_use = posting_db_.in_use() + read_db_.in_use() + health_db_.in_use();
  g.pool_size = posting_db_.options().pool_size + read_db_.options().pool_size + health_db_.options().pool_size;
  g.reconnects = posting_db_.reconnects() + read_db_.reconnects() + health_db_.reconnects();
  g.connections_open = connections_open.load();
  g.connections_max = options_.max_connections;
  g.connections_refused = connections_refused.load();
  g.tokens_active = tokens_.size();
  res.status = 200;
  res.set_content(metrics_.render(g), "text/plain; version=0.0.4");
}

}  // namespace promoledger::service::detail
