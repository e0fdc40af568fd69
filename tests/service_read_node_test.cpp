// serve --read-db on one server (docs/operations.md, "Production"): the real process, over HTTP. The
// read node is a second database of the same server holding other books, so every answer shows where
// it was read: reports, traces and the console's figures from the read node, with X-Replica-Lag-Ms
// (0: a primary answers) and "replica_lag_ms"; payments, a payment's lookup and audit verify from the
// primary (--db). /healthz names both nodes; /metrics counts reconnects per pool and the lag. On a real
// standby (lag, a different node, a switchover's reconnects) scripts/failover.sh checks the same.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include "http_client.hpp"
#include "promo_fixture.hpp"
#include "service_process.hpp"
#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/service/tokens.hpp"

namespace promoledger::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

Answer call(int port, const std::string& method, const std::string& path, const std::string& token,
            const std::optional<std::string>& body = std::nullopt) {
  HttpClient client("127.0.0.1", port);
  Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  return client.request(method, path, h, method == "POST" ? std::optional<std::string>(body.value_or("")) : std::nullopt);
}

// The value of the metric line that starts with `series` ("name" or "name{labels}").
std::optional<double> metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

class ReadNodeTest : public PromoTest {
 protected:
  void SetUp() override {
    PromoTest::SetUp();
    if (HasFatalFailure()) return;
    const char* bin = std::getenv("PROMOLEDGER_BIN");
    ASSERT_NE(bin, nullptr) << "PROMOLEDGER_BIN is not set (the built promoledger)";
    bin_ = bin;
    dir_ = std::filesystem::temp_directory_path() / ("promoledger-read-node-" + tdb_.name());
    std::filesystem::create_directories(dir_);
    for (const auto& [name, role] : {std::pair{"core-1", service::Role::poster}, {"finance-1", service::Role::finance},
                                     {"audit-1", service::Role::auditor}, {"ops-1", service::Role::operator_}}) {
      auto made = service::create_token(db(), name, role, "service_read_node_test");
      ASSERT_TRUE(made.has_value()) << made.error();
      tokens_[role] = *made;
    }
    // The primary's books: the pilot campaign dealt, one payment.
    approved_campaign(pilot_params({"M1"}));
    ASSERT_EQ(promo::deal_day(db(), day("2026-11-24")).decks_dealt, 1);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string start(ServiceProcess& process, const std::vector<std::string>& extra) {
    std::vector<std::string> args{"--db", tdb_.conninfo(), "serve", "--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return process.start(bin_, args, dir_ / fmt::format("stderr-{}.log", ++starts_));
  }

  // host:port of this test's server, as libpq names it.
  std::string server() {
    auto lease = db().lease();
    return ledger::server_address(*lease);
  }

  const std::string& token(service::Role role) { return tokens_[role]; }

  std::string bin_;
  std::filesystem::path dir_;
  std::map<service::Role, std::string> tokens_;
  int starts_ = 0;
};

const std::string pay_1 = R"({"payment_id":"rn-1","payer":"P1","merchant":"M1","channel":"bank_app",)"
                          R"("amount":"100.00","paid_at":"2026-11-24T12:00:00+08:00"})";

TEST_F(ReadNodeTest, ReportsAndTracesComeFromTheReadNodeWritesAndVerifyFromThePrimary) {
  TestDatabase read_node;  // a second database on the same server: other (empty) books
  ServiceProcess svc;
  ASSERT_EQ(start(svc, {"--read-db", read_node.conninfo()}), "");
  const int port = svc.port();
  const auto& poster = token(service::Role::poster);
  const auto& finance = token(service::Role::finance);
  const auto& auditor = token(service::Role::auditor);

  // A payment posts on the primary, and its poster finds it there.
  ASSERT_EQ(call(port, "POST", "/v1/payments", poster, pay_1).status, 201);
  const auto found = call(port, "GET", "/v1/payments/rn-1", poster);
  EXPECT_EQ(found.status, 200) << found.describe();
  EXPECT_EQ(found.header("X-Replica-Lag-Ms"), "") << "a payment's lookup is not a read of the read node";

  // The trial balance is the read node's (nothing posted there), with its lag: 0, a primary answers.
  const auto tb = call(port, "GET", "/v1/reports/trial-balance", finance);
  ASSERT_EQ(tb.status, 200) << tb.describe();
  EXPECT_EQ(tb.js().value("total_debits", ""), "0.00") << tb.body;
  EXPECT_EQ(tb.header("X-Replica-Lag-Ms"), "0") << tb.describe();
  EXPECT_EQ(tb.header("X-Read-Node"), server()) << tb.describe();
  ASSERT_TRUE(tb.js().contains("replica_lag_ms")) << tb.body;
  EXPECT_EQ(tb.js()["replica_lag_ms"], 0) << tb.body;
  // The payment is not on the read node: its trace is not found there (and a 404 keeps the error
  // shape, with the headers).
  const auto trace = call(port, "GET", "/v1/audit/trace/rn-1", auditor);
  EXPECT_EQ(trace.status, 404) << trace.describe();
  EXPECT_EQ(trace.header("X-Replica-Lag-Ms"), "0") << trace.describe();
  EXPECT_FALSE(trace.js().contains("replica_lag_ms")) << trace.body;
  // An outlet report (a JSON object), its CSV (the header only), a campaign's figures: all read there.
  const auto outlets = call(port, "GET", "/v1/reports/outlets?from=2026-11-24&to=2026-11-24", finance);
  ASSERT_EQ(outlets.status, 200) << outlets.describe();
  EXPECT_EQ(outlets.js()["replica_lag_ms"], 0) << outlets.body;
  const auto csv = call(port, "GET", "/v1/reports/outlets?from=2026-11-24&to=2026-11-24&format=csv", finance);
  ASSERT_EQ(csv.status, 200) << csv.describe();
  EXPECT_EQ(csv.header("X-Replica-Lag-Ms"), "0");
  EXPECT_EQ(csv.body.find("replica_lag_ms"), std::string::npos) << "a CSV is not a JSON object";
  EXPECT_EQ(call(port, "GET", "/v1/campaigns/1/card-values", finance).status, 404) << "no campaign on the read node";

  // Audit verify judges the primary's books: its chain digest is the primary's, not the read node's.
  const auto verify = call(port, "POST", "/v1/audit/verify", auditor);
  ASSERT_EQ(verify.status, 200) << verify.describe();
  EXPECT_TRUE(verify.js().value("ok", false)) << verify.body;
  const std::string primary_digest = promo::verify_all(db()).chain_digest;
  EXPECT_NE(primary_digest, promo::verify_all(read_node.db()).chain_digest) << "the test needs two different books";
  EXPECT_EQ(verify.js().value("chain_digest", ""), primary_digest) << verify.body;
  EXPECT_EQ(verify.header("X-Replica-Lag-Ms"), "");

  // /healthz names both nodes (the same server here) and the lag.
  const auto health = call(port, "GET", "/healthz", "");
  ASSERT_EQ(health.status, 200) << health.describe();
  const json h = health.js();
  EXPECT_EQ(h.value("status", ""), "ok") << health.body;
  EXPECT_EQ(h.value("write_node", ""), server()) << health.body;
  EXPECT_EQ(h.value("read_node", ""), server()) << health.body;
  EXPECT_EQ(h.value("read_node_standby", true), false) << health.body;
  EXPECT_EQ(h.value("replica_lag_ms", -1), 0) << health.body;

  // /metrics: reconnects per pool, the lag gauge and the read node's role.
  const auto m = call(port, "GET", "/metrics", token(service::Role::operator_));
  ASSERT_EQ(m.status, 200) << m.describe();
  EXPECT_EQ(metric(m.body, R"(promoledger_db_reconnects_total{pool="primary"})"), 0.0) << m.body;
  EXPECT_EQ(metric(m.body, R"(promoledger_db_reconnects_total{pool="read"})"), 0.0) << m.body;
  EXPECT_EQ(metric(m.body, "promoledger_replica_lag_seconds"), 0.0) << m.body;
  EXPECT_EQ(metric(m.body, "promoledger_read_node_standby"), 0.0) << m.body;

  // Every connection of the service to either database cut (a switchover restarts the old primary):
  // the next lease of each pool reconnects, and /metrics counts it in its pool.
  const auto cut = [this](const std::string& database) {
    tdb_.exec_as_admin(fmt::format("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                                   "WHERE datname = '{}' AND pid <> pg_backend_pid()",
                                   database));
  };
  cut(read_node.name());
  EXPECT_EQ(call(port, "GET", "/v1/reports/trial-balance", finance).status, 200);
  cut(tdb_.name());
  EXPECT_EQ(call(port, "GET", "/v1/payments/rn-1", poster).status, 200);
  const auto after = call(port, "GET", "/metrics", token(service::Role::operator_));
  EXPECT_GE(metric(after.body, R"(promoledger_db_reconnects_total{pool="primary"})").value_or(0), 1.0) << after.body;
  EXPECT_GE(metric(after.body, R"(promoledger_db_reconnects_total{pool="read"})").value_or(0), 1.0) << after.body;
}

// Without --read-db every read is the primary's, and no answer claims a lag.
TEST_F(ReadNodeTest, WithoutAReadNodeEveryReadIsThePrimarysAndCarriesNoLag) {
  ServiceProcess svc;
  ASSERT_EQ(start(svc, {}), "");
  const int port = svc.port();
  ASSERT_EQ(call(port, "POST", "/v1/payments", token(service::Role::poster), pay_1).status, 201);
  const auto trace = call(port, "GET", "/v1/audit/trace/rn-1", token(service::Role::auditor));
  EXPECT_EQ(trace.status, 200) << trace.describe();
  EXPECT_EQ(trace.header("X-Replica-Lag-Ms"), "");
  EXPECT_FALSE(trace.js().contains("replica_lag_ms")) << trace.body;
  const auto tb = call(port, "GET", "/v1/reports/trial-balance", token(service::Role::finance));
  ASSERT_EQ(tb.status, 200);
  EXPECT_NE(tb.js().value("total_debits", ""), "0.00");
  const auto health = call(port, "GET", "/healthz", "");
  ASSERT_EQ(health.status, 200) << health.describe();
  EXPECT_EQ(health.js().value("write_node", ""), server()) << health.body;
  EXPECT_FALSE(health.js().contains("read_node")) << health.body;
  const auto m = call(port, "GET", "/metrics", token(service::Role::operator_));
  EXPECT_TRUE(metric(m.body, R"(promoledger_db_reconnects_total{pool="primary"})").has_value()) << m.body;
  EXPECT_FALSE(metric(m.body, R"(promoledger_db_reconnects_total{pool="read"})").has_value()) << m.body;
  EXPECT_EQ(m.body.find("promoledger_replica_lag_seconds"), std::string::npos) << m.body;
}

// A read node that goes away: payments go on and /healthz says degraded (200: the instance still
// clears); its reads answer 503 and name nothing stored; /metrics says the read node does not answer.
TEST_F(ReadNodeTest, AReadNodeThatGoesAwayDegradesReadsButNotPayments) {
  auto read_node = std::make_unique<TestDatabase>();
  ServiceProcess svc;
  ASSERT_EQ(start(svc, {"--read-db", read_node->conninfo()}), "");
  const int port = svc.port();
  read_node.reset();  // dropped WITH (FORCE): every connection to it ends, and none can be made

  ASSERT_EQ(call(port, "POST", "/v1/payments", token(service::Role::poster), pay_1).status, 201);
  const auto health = call(port, "GET", "/healthz", "");
  ASSERT_EQ(health.status, 200) << health.describe();
  EXPECT_EQ(health.js().value("status", ""), "degraded") << health.body;
  EXPECT_TRUE(health.js().contains("read_node") && health.js()["read_node"].is_null()) << health.body;
  const auto tb = call(port, "GET", "/v1/reports/trial-balance", token(service::Role::finance));
  EXPECT_EQ(tb.status, 503) << tb.describe();
  EXPECT_FALSE(tb.header("Retry-After").empty()) << tb.describe();
  const auto verify = call(port, "POST", "/v1/audit/verify", token(service::Role::auditor));
  EXPECT_EQ(verify.status, 200) << "verify runs on the primary: " << verify.describe();
  const auto m = call(port, "GET", "/metrics", token(service::Role::operator_));
  EXPECT_EQ(metric(m.body, "promoledger_read_node_standby"), -1.0) << m.body;
  EXPECT_FALSE(metric(m.body, "promoledger_replica_lag_seconds").has_value()) << m.body;
}

// A --read-db that does not parse is refused before anything starts, naming the option.
TEST_F(ReadNodeTest, AReadDbThatDoesNotParseIsRefusedAtStart) {
  ServiceProcess svc;
  const std::string why = start(svc, {"--read-db", "host=a nonsense"});
  EXPECT_NE(why, "") << "the service started";
  EXPECT_NE(why.find("--read-db"), std::string::npos) << why;
}

}  // namespace
}  // namespace promoledger::testing
