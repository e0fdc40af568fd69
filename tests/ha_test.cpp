// High availability on the client side (docs/operations.md, "Production"), against a real PostgreSQL:
// the posting transaction runs with synchronous_commit on; a warning at commit (PostgreSQL's cancelled
// wait for the synchronous standby) is an unknown outcome, never a success; a session the server closed
// while it sat in the pool is reconnected before a statement is sent; a multi-host connection string
// finds the server that answers and says which one it is. The formation itself (Patroni, a SIGKILLed
// primary, a real cancelled synchronous wait) is proven by scripts/failover.sh.
#include <future>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "promo_fixture.hpp"
#include "promoledger/ledger/server_state.hpp"
#include "promoledger/promo/group_commit.hpp"

namespace promoledger::testing {
namespace {

using promo::Channel;
using promo::GroupCommitPoster;
using promo::PaymentPoster;
using promo::PaymentResult;

class HaTest : public PromoTest {
 protected:
  void SetUp() override {
    PromoTest::SetUp();
    approved_campaign(pilot_params({"M1"}));
    ASSERT_EQ(promo::deal_day(db(), day("2026-11-24")).decks_dealt, 1);
  }

  promo::PaymentRequest bank_app(std::string id, const char* amount = "100.00") {
    return payment(std::move(id), "P1", "M1", Channel::bank_app, amount, "2026-11-24T12:00:00+08:00");
  }

  std::vector<std::string> texts(const std::string& sql) {
    auto lease = db().lease();
    std::vector<std::string> out(100);
    std::vector<soci::indicator> ind(100);
    *lease << sql, soci::into(out, ind);
    return out;
  }
};

// What the posting transaction itself sees, recorded by a trigger inside it: a payment session (or
// promo.post_payments, or a setting of the role or database) that lowered synchronous_commit would let
// a commit return before the synchronous standby has it, and a failover could lose an acknowledged
// payment.
TEST_F(HaTest, PostingTransactionsRunWithSynchronousCommitOn) {
  tdb_.exec_as_admin(
      "CREATE TABLE public.ha_seen (via text NOT NULL, setting text NOT NULL);"
      "CREATE FUNCTION public.ha_record() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
      "  INSERT INTO public.ha_seen SELECT 'payment', current_setting('synchronous_commit'); RETURN NULL; END $$;"
      "CREATE TRIGGER ha_record AFTER INSERT ON promo.payment FOR EACH STATEMENT EXECUTE FUNCTION public.ha_record();");
  PaymentPoster poster(db());
  ASSERT_TRUE(poster.post(bank_app("ha-one")).has_value());
  std::vector<promo::PaymentRequest> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(bank_app(fmt::format("ha-batch-{}", i)));
  for (const auto& outcome : poster.post_batch(batch)) ASSERT_TRUE(outcome.has_value());
  {
    GroupCommitPoster group(poster, promo::GroupCommitOptions{});
    std::vector<std::future<GroupCommitPoster::Outcome>> futures;
    for (int i = 0; i < 8; ++i) futures.push_back(group.submit(bank_app(fmt::format("ha-group-{}", i))));
    for (auto& f : futures) ASSERT_TRUE(f.get().has_value());
  }
  const long long statements = scalar("SELECT count(*) FROM public.ha_seen");
  ASSERT_GE(statements, 3);  // the trigger ran in every posting transaction (at least one per path)
  EXPECT_EQ(scalar("SELECT count(*) FROM public.ha_seen WHERE setting <> 'on'"), 0)
      << "a posting transaction ran with synchronous_commit = "
      << texts("SELECT DISTINCT setting FROM public.ha_seen WHERE setting <> 'on'").front();
  // The leased sessions themselves, as SHOW reports it.
  auto lease = db().lease();
  std::string setting;
  *lease << "SHOW synchronous_commit", soci::into(setting);
  EXPECT_EQ(setting, "on");
}

// PostgreSQL answers a COMMIT whose wait for the synchronous standby was cancelled with success plus
// "WARNING: canceling wait for synchronous replication due to user request / DETAIL: The transaction
// has already committed locally, but might not have been replicated to the standby." A trigger raises
// the same warning here (a real cancelled wait needs a standby: scripts/failover.sh does it on the
// formation). The batch is stored, yet its callers must hear OutcomeUnknown, and a re-send answers exists.
TEST_F(HaTest, AWarningAtCommitMakesTheOutcomeUnknownNotASuccess) {
  tdb_.exec_as_admin(
      "CREATE FUNCTION public.ha_warn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
      "  IF NEW.payment_id LIKE 'warned-%' THEN "
      "    RAISE WARNING 'canceling wait for synchronous replication due to user request' "
      "      USING DETAIL = 'The transaction has already committed locally, but might not have been replicated to the standby.'; "
      "  END IF; RETURN NULL; END $$;"
      "CREATE TRIGGER ha_warn AFTER INSERT ON promo.payment FOR EACH ROW EXECUTE FUNCTION public.ha_warn();");
  PaymentPoster poster(db());
  EXPECT_THROW(poster.post(bank_app("warned-1")), ledger::OutcomeUnknown);
  EXPECT_EQ(scalar("SELECT count(*) FROM promo.payment WHERE payment_id = 'warned-1'"), 1);  // committed locally
  {
    GroupCommitPoster group(poster, promo::GroupCommitOptions{});
    auto future = group.submit(bank_app("warned-2"));
    EXPECT_THROW(future.get(), ledger::OutcomeUnknown);
    EXPECT_EQ(group.stats().unknown_batches, 1u);
  }
  // A re-send posts nothing new (the trigger stays quiet: no warned- row is inserted) and answers exists.
  auto again = poster.post(bank_app("warned-1"));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, PaymentResult::Status::exists);
  // Without a warning, the same path is a plain success.
  auto plain = poster.post(bank_app("quiet-1"));
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->status, PaymentResult::Status::posted);
}

// A primary that died or was demoted closes every connection; a session idle in the pool then holds a
// dead connection. It is reconnected when leased, before anything is sent, so the payment posts
// instead of failing with an unknown outcome.
TEST_F(HaTest, ASessionTheServerClosedWhileIdleIsReconnectedBeforeUse) {
  ledger::Database single(ledger::DatabaseOptions{tdb_.conninfo(), 1});
  PaymentPoster poster(single);
  ASSERT_TRUE(poster.post(bank_app("before")).has_value());
  int backend = 0;
  {
    auto lease = single.lease();
    *lease << "SELECT pg_backend_pid()", soci::into(backend);
  }
  tdb_.exec_as_admin(fmt::format("SELECT pg_terminate_backend({}, 5000)", backend));
  const auto reconnects_before = single.reconnects();
  auto after = poster.post(bank_app("after"));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->status, PaymentResult::Status::posted);
  EXPECT_EQ(single.reconnects(), reconnects_before + 1);
}

// A free TCP port on 127.0.0.1 where nothing listens (a machine that is gone).
int dead_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("no free port");
  }
  const int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

// host=a,b port=x,y: libpq tries the hosts in order; the first is gone, the second answers. The pool
// says which server it writes to (what /healthz reports).
TEST_F(HaTest, AMultiHostConnectionStringFindsTheServerThatAnswers) {
  std::string host, port, dbname;
  {
    auto lease = db().lease();
    *lease << "SELECT coalesce(inet_server_addr()::text, '127.0.0.1'), current_setting('port'), current_database()",
        soci::into(host), soci::into(port), soci::into(dbname);
  }
  host = host.substr(0, host.find('/'));
  const std::string conninfo = fmt::format("host={0},{0} port={1},{2} dbname={3} user=postgres", host, dead_port(),
                                           port, dbname);
  ledger::Database multi(ledger::DatabaseOptions{conninfo, 2});
  EXPECT_NE(multi.options().conninfo.find("target_session_attrs='read-write'"), std::string::npos);
  auto lease = multi.lease();
  EXPECT_EQ(ledger::server_address(*lease), fmt::format("{}:{}", host, port));
  PaymentPoster poster(multi);
  EXPECT_TRUE(poster.post(bank_app("multi-host")).has_value());
}

// What /healthz and the answers of serve --read-db report about a server: a primary is no standby and
// never behind (its lag is 0 however old its last commit). A standby's lag (paused replay, above 0;
// caught up, 0) is checked on the formation by scripts/failover.sh.
TEST_F(HaTest, APrimarySaysItIsNoStandbyAndNotBehind) {
  tdb_.exec_as_admin("SELECT pg_sleep(0.05)");  // whatever the time since the last commit
  auto lease = db().lease();
  const auto state = ledger::server_state(*lease);
  EXPECT_EQ(state.address, ledger::server_address(*lease));
  EXPECT_FALSE(state.standby);
  ASSERT_TRUE(state.replica_lag_ms.has_value());
  EXPECT_EQ(*state.replica_lag_ms, 0);
}

TEST(ConninfoTest, SeveralHostsGetATargetAndEveryStringGetsTimeoutsTheCallersOwnSettingsWin) {
  using ledger::Target;
  const std::string multi = ledger::complete_conninfo("host=a,b,c port=1,2,3 dbname=d", Target::primary);
  EXPECT_NE(multi.find("host='a,b,c'"), std::string::npos);
  EXPECT_NE(multi.find("port='1,2,3'"), std::string::npos);
  EXPECT_NE(multi.find("target_session_attrs='read-write'"), std::string::npos);
  EXPECT_NE(multi.find("connect_timeout='2'"), std::string::npos);
  EXPECT_NE(multi.find("keepalives='1'"), std::string::npos);
  EXPECT_NE(multi.find("tcp_user_timeout='10000'"), std::string::npos);
  EXPECT_NE(ledger::complete_conninfo("host=a,b", Target::prefer_standby).find("target_session_attrs='prefer-standby'"),
            std::string::npos);
  // One host: no target to choose.
  EXPECT_EQ(ledger::complete_conninfo("host=a", Target::primary).find("target_session_attrs"), std::string::npos);
  // The caller's own settings win.
  const std::string own =
      ledger::complete_conninfo("host=a,b connect_timeout=7 target_session_attrs=any", Target::primary);
  EXPECT_NE(own.find("connect_timeout='7'"), std::string::npos);
  EXPECT_EQ(own.find("connect_timeout='2'"), std::string::npos);
  EXPECT_NE(own.find("target_session_attrs='any'"), std::string::npos);
  // A URI works too, and quoting keeps odd values whole.
  const std::string uri = ledger::complete_conninfo("postgresql://u@a:1,b:2/d?application_name=it%27s", Target::primary);
  EXPECT_NE(uri.find("target_session_attrs='read-write'"), std::string::npos);
  EXPECT_NE(uri.find("application_name='it\\'s'"), std::string::npos);
}

TEST(ConninfoTest, AStringThatDoesNotParseIsRefusedWithoutShowingThePassword) {
  try {
    ledger::complete_conninfo("host=a password=s3cret nonsense", ledger::Target::primary);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("does not parse"), std::string::npos) << what;
    EXPECT_NE(what.find("nonsense"), std::string::npos) << what;
    EXPECT_EQ(what.find("s3cret"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace promoledger::testing
