// The promoledger command as a user runs it: exit codes, messages, JSON shapes, all-or-nothing imports.
// The binary is $PROMOLEDGER_BIN (scripts/test.sh sets it); each test has a fresh database.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>
#include <soci/postgresql/soci-postgresql.h>

#include "cli_runner.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/migrations.hpp"
#include "promoledger/ledger/money.hpp"
#include "test_db.hpp"

namespace promoledger::testing {
namespace {

class CliTest : public DbTest {
 protected:
  void SetUp() override {
    const auto bin = promoledger_bin();
    ASSERT_TRUE(bin.has_value()) << "PROMOLEDGER_BIN is not set (scripts/test.sh sets it to the built promoledger)";
    bin_ = *bin;
    ASSERT_TRUE(std::filesystem::exists(bin_)) << bin_;
    dir_ = std::filesystem::temp_directory_path() / ("promoledger-cli-" + tdb_.name());
    cli_.emplace(bin_, tdb_.conninfo(), dir_);
    ASSERT_EQ(run({"db", "migrate"}).exit_code, 0);
  }
  void TearDown() override { cli_.reset(); }

  CliRun run(const std::vector<std::string>& args, bool json = false) { return cli_->run(args, json); }

  std::string file(const std::string& name, const std::string& content) { return cli_->file(name, content); }

  long long count(const std::string& table) {
    soci::session s(soci::postgresql, tdb_.conninfo());
    long long n = 0;
    s << "SELECT count(*) FROM " + table, soci::into(n);
    return n;
  }

  void import_example_org() {
    const std::string org = file("org.csv",
                                 "kind,code,name,parent,opening_balance\n"
                                 "branch,BR1,Branch,,\n"
                                 "sub_branch,SB1,Sub-branch,BR1,\n"
                                 "outlet,O1,Outlet 1,SB1,\n"
                                 "merchant,M1,Noodles,O1,\n"
                                 "merchant,M2,\"Tea, and more\",O1,\n"
                                 "payer,P1,Payer one,,500.00\n"
                                 "payer,P2,Payer two,,20.00\n");
    const auto r = run({"org", "import", org});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::string bin_;
  std::filesystem::path dir_;
  std::optional<CliRunner> cli_;
};

TEST_F(CliTest, OrgImportIsAllOrNothingAndNamesFileLineAndField) {
  const std::string bad_amount = file("bad-amount.csv",
                                      "kind,code,name,parent,opening_balance\n"
                                      "branch,BR1,Branch,,\n"
                                      "payer,P1,Payer,,abc\n");
  auto r = run({"org", "import", bad_amount});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad-amount.csv:3: field opening_balance"), std::string::npos) << r.err;
  const std::string unknown_parent = file("unknown-parent.csv",
                                          "kind,code,name,parent,opening_balance\n"
                                          "branch,BR1,Branch,,\n"
                                          "sub_branch,SB1,Sub,BR1,\n"
                                          "outlet,O1,Outlet,SB9,\n");
  r = run({"org", "import", unknown_parent});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown-parent.csv:4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("SB9"), std::string::npos) << r.err;
  // Nothing of the valid lines before the bad one was written.
  EXPECT_EQ(count("ledger.org_unit"), 0);
  const std::string short_line = file("short.csv", "kind,code,name,parent,opening_balance\nbranch,BR1,Branch\n");
  r = run({"org", "import", short_line});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("short.csv:2: expected 5 fields, found 3"), std::string::npos) << r.err;
  const std::string unclosed = file("quote.csv", "kind,code,name,parent,opening_balance\nbranch,BR1,\"Branch,,\n");
  r = run({"org", "import", unclosed});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not closed"), std::string::npos) << r.err;
  r = run({"org", "import", (dir_ / "missing.csv").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.csv: cannot open"), std::string::npos) << r.err;
  EXPECT_EQ(count("ledger.org_unit"), 0);
  EXPECT_EQ(count("ledger.journal_entry"), 0);
  // A good import, twice: the second is a no-op (no second opening deposit).
  import_example_org();
  import_example_org();
  EXPECT_EQ(count("ledger.merchant"), 2);
  EXPECT_EQ(count("ledger.journal_entry"), 2);
}

TEST_F(CliTest, PayReportsBadInputWithExitCodesAndWritesNothing) {
  import_example_org();
  const long long entries = count("ledger.journal_entry");
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    const char* words;
  };
  const std::vector<std::string> base{"pay", "--payment-id", "x1", "--payer", "P1", "--channel", "wechat"};
  const auto with = [&](std::vector<std::string> extra) {
    auto a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  for (const Case& c : std::vector<Case>{
           {with({"--merchant", "M1", "--amount", "abc"}), 2, "amount \"abc\" is not a decimal number"},
           {with({"--merchant", "M1", "--amount", "1.234"}), 2, "more than two decimals"},
           {with({"--merchant", "M1", "--amount", "0"}), 2, "must be > 0"},
           {with({"--merchant", "M1", "--amount", "10.00", "--at", "2026-02-30T10:00:00+08:00"}), 2, "not a calendar date"},
           {with({"--merchant", "M1", "--amount", "10.00", "--at", "2026-11-24T25:00:00+08:00"}), 2, "impossible time"},
           {with({"--merchant", "NOPE", "--amount", "10.00"}), 1, "no merchant NOPE"},
           {with({"--merchant", "M1", "--amount", "600.00"}), 1, "insufficient_funds"},
           {{"pay", "--payment-id", "x1", "--payer", "P1", "--merchant", "M1", "--channel", "paypal", "--amount", "1"}, 2,
            "not bank_app, wechat or alipay"},
           {{"pay", "--payment-id", "x1"}, 2, "--payer is required"},
       }) {
    const auto r = run(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.words << "\n" << r.err;
    EXPECT_NE(r.err.find(c.words), std::string::npos) << "expected \"" << c.words << "\" in: " << r.err;
  }
  EXPECT_EQ(count("ledger.journal_entry"), entries);
  EXPECT_EQ(count("promo.payment"), 0);
}

TEST_F(CliTest, PayJsonCarriesBothScreensAndReplaysReturnTheFirstResult) {
  import_example_org();
  const std::vector<std::string> args{"pay", "--payment-id", "j1", "--payer", "P1", "--merchant", "M1", "--channel",
                                      "wechat", "--amount", "35.50", "--at", "2026-11-24T12:00:00+08:00"};
  auto r = run(args, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto first = nlohmann::json::parse(r.out);
  EXPECT_EQ(first["payment_id"], "j1");
  EXPECT_EQ(first["status"], "posted");
  EXPECT_EQ(first["discounted"], false);
  EXPECT_EQ(first["reason"], "no_active_campaign");
  EXPECT_EQ(first["amount"], "35.50");
  EXPECT_EQ(first["discount"], "0.00");
  EXPECT_EQ(first["payer_discount"], "0.00");
  EXPECT_EQ(first["payer_pays"], "35.50");
  EXPECT_EQ(first["merchant_reward"], "0.00");
  EXPECT_EQ(first["merchant_receives"], "35.50");
  EXPECT_TRUE(first["entry_id"].is_number_integer());
  r = run(args, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto second = nlohmann::json::parse(r.out);
  EXPECT_EQ(second["status"], "exists");
  EXPECT_EQ(second["entry_id"], first["entry_id"]);
  auto changed = args;
  changed[10] = "35.51";
  r = run(changed, true);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "exists_with_different_content");
}

TEST_F(CliTest, PayCsvPostsTheGoodLinesAndReportsTheBadOnesByLine) {
  import_example_org();
  const std::string csv = file("payments.csv",
                               "payment_id,payer,merchant,channel,amount,at\n"
                               "c1,P1,M1,wechat,10.00,2026-11-24T10:00:00+08:00\n"
                               "c2,P1,M1,wechat,abc,2026-11-24T10:01:00+08:00\n"
                               "c3,P1,NOPE,alipay,10.00,2026-11-24T10:02:00+08:00\n"
                               "c4,P2,M2,alipay,5.00,2026-11-24T10:03:00+08:00\n");
  const auto r = run({"pay", "--csv", csv}, true);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["posted"], 2);
  EXPECT_EQ(summary["rejected"], 2);
  EXPECT_EQ(summary["failures"][0]["line"], 3);
  EXPECT_EQ(summary["failures"][1]["line"], 4);
  EXPECT_NE(r.err.find("payments.csv:3: amount"), std::string::npos) << r.err;
  EXPECT_EQ(count("promo.payment"), 2);
  const std::string broken = file("broken.csv", "payment_id,payer\nx,y\n");
  const auto b = run({"pay", "--csv", broken});
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_NE(b.err.find("broken.csv:1"), std::string::npos) << b.err;
}

TEST_F(CliTest, CampaignCommandsGiveJsonShapesAndRefuseBadDocuments) {
  import_example_org();
  const std::string bad = file("bad.json", "{\"name\": \"x\", \"max_discount\": 10.0, \"daily_cap\": 20,");
  auto r = run({"campaign", "create", "--file", bad, "--by", "alice"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not valid JSON"), std::string::npos) << r.err;
  const std::string infeasible = file("infeasible.json", R"({
    "name": "x", "funding_branch": "BR1", "gl_code": "660101", "merchants": ["M1"],
    "first_day": "2026-11-24", "last_day": "2026-11-30", "min_payment": "10.00", "min_discount": "1.00",
    "max_discount": "10.00", "band_low": "7.00", "band_high": "11.00", "band_share_bp": 8000, "daily_cap": 20,
    "budget_total": "100.00"})");
  r = run({"campaign", "create", "--file", infeasible, "--by", "alice"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("band_high"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("budget_total"), std::string::npos) << r.err;
  EXPECT_EQ(count("promo.campaign"), 0);
  const std::string good = file("good.json", R"({
    "name": "pilot", "funding_branch": "BR1", "gl_code": "660101", "merchants": ["M1", "M2"],
    "first_day": "2026-11-24", "last_day": "2026-11-30", "min_payment": "10.00", "min_discount": "1.00",
    "max_discount": "10.00", "band_low": "7.00", "band_high": "9.00", "band_share_bp": 8000, "daily_cap": 20,
    "budget_total": "5000.00"})");
  r = run({"campaign", "create", "--file", good, "--by", "alice"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto id = nlohmann::json::parse(r.out)["id"].get<long long>();
  r = run({"campaign", "approve", std::to_string(id), "--by", "alice"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("another person must approve"), std::string::npos) << r.err;
  ASSERT_EQ(run({"campaign", "approve", std::to_string(id), "--by", "bob"}).exit_code, 0);
  r = run({"campaign", "list"}, true);
  ASSERT_EQ(r.exit_code, 0);
  const auto list = nlohmann::json::parse(r.out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], id);
  EXPECT_EQ(list[0]["status"], "approved");
  r = run({"campaign", "show", std::to_string(id)}, true);
  ASSERT_EQ(r.exit_code, 0);
  const auto show = nlohmann::json::parse(r.out);
  EXPECT_EQ(show["merchants"], nlohmann::json::array({"M1", "M2"}));
  EXPECT_EQ(show["first_day"], "2026-11-24");
  EXPECT_EQ(show["last_day"], "2026-11-30");
  EXPECT_EQ(show["daily_cap"], 20);
  EXPECT_EQ(show["min_payment"], "10.00");
  EXPECT_EQ(show["max_discount"], "10.00");
  EXPECT_EQ(run({"campaign", "show", "999"}).exit_code, 1);
  // Without --by the actor is the OS user (PROMOLEDGER_USER first), recorded in the lifecycle.
  ::setenv("PROMOLEDGER_USER", "ops.night", 1);
  r = run({"campaign", "pause", std::to_string(id)}, true);
  ::unsetenv("PROMOLEDGER_USER");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["status"], "paused");
  r = run({"campaign", "show", std::to_string(id)}, true);
  EXPECT_EQ(nlohmann::json::parse(r.out)["events"].back()["actor"], "ops.night");
  ASSERT_EQ(run({"campaign", "resume", std::to_string(id), "--by", "ops.day"}).exit_code, 0);
  r = run({"db", "status"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // One row per numbered migration and per function file.
  EXPECT_EQ(nlohmann::json::parse(r.out).size(),
            ledger::embedded_migrations().size() + ledger::embedded_function_files().size());
  EXPECT_EQ(run({"deal", "--date", "2026-13-01"}).exit_code, 2);
  r = run({"deal", "--date", "2026-11-24"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["decks_dealt"], 2);
  r = run({"pay", "--payment-id", "d1", "--payer", "P1", "--merchant", "M1", "--channel", "bank_app", "--amount",
           "100.00", "--at", "2026-11-24T12:00:00+08:00"},
          true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto paid = nlohmann::json::parse(r.out);
  EXPECT_EQ(paid["discounted"], true);
  EXPECT_EQ(paid["reason"], nullptr);
  EXPECT_EQ(ledger::Money::parse(paid["payer_pays"].get<std::string>())->fen() +
                ledger::Money::parse(paid["payer_discount"].get<std::string>())->fen(),
            10000);
  r = run({"reverse", "--payment-id", "d1", "--date", "2026-11-24"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["status"], "posted");
  EXPECT_EQ(run({"reverse", "--payment-id", "nope"}).exit_code, 1);
  r = run({"close-day", "--date", "2026-11-24"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["cards_used"], 1);
}

// As people type it: global options after the subcommand, ids without their flag, and a time without
// an offset said to be read in Asia/Shanghai.
TEST_F(CliTest, GlobalOptionsAnywhereAndPositionalIds) {
  import_example_org();
  // --json after the subcommand gives the same JSON as before it.
  auto after = run({"report", "trial-balance", "--json"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  auto before = run({"report", "trial-balance"}, true);
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_EQ(nlohmann::json::parse(after.out), nlohmann::json::parse(before.out));
  // --csv after a nested subcommand.
  auto csv = run({"report", "trial-balance", "--csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  // Records end with CRLF (RFC 4180), as the API's text/csv: one writer (promo::views::csv).
  EXPECT_EQ(csv.out.rfind("account,type,debits,credits,balance\r\n", 0), 0U) << csv.out;

  auto r = run({"pay", "--payment-id", "z1", "--payer", "P1", "--merchant", "M1", "--channel", "wechat", "--amount",
                "12.00", "--at", "2026-11-24T12:00:00", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("has no offset: read as Asia/Shanghai"), std::string::npos) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["business_day"], "2026-11-24");
  r = run({"pay", "--payment-id", "z2", "--payer", "P1", "--merchant", "M1", "--channel", "wechat", "--amount",
           "12.00", "--at", "2026-11-24T12:00:00+08:00"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("no offset"), std::string::npos) << r.err;

  r = run({"audit", "trace", "z1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["payment"]["payment_id"], "z1");
  r = run({"reverse", "z1", "--date", "2026-11-24", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["status"], "posted");
  // The flag still works and gives the same reversal.
  r = run({"reverse", "--payment-id", "z1", "--date", "2026-11-24"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["status"], "exists");
  EXPECT_EQ(run({"reverse"}).exit_code, 2);
  r = run({"reverse", "z1", "--payment-id", "z2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("differ"), std::string::npos) << r.err;
  EXPECT_EQ(run({"audit", "trace"}).exit_code, 2);
}

TEST_F(CliTest, UsageErrorsAndDatabaseFailuresHaveTheirExitCodes) {
  EXPECT_EQ(run({"no-such-command"}).exit_code, 2);
  EXPECT_EQ(run({"pay", "--amount"}).exit_code, 2);
  const std::string cmd = shell_quote(bin_) + " --db 'host=127.0.0.1 port=1 user=nobody connect_timeout=2' campaign list "
                          ">/dev/null 2>&1";
  EXPECT_EQ(CliRunner::run_shell(cmd), 3);
}

TEST_F(CliTest, SimulateIsReproducibleAndReplaysOnASecondRun) {
  import_example_org();
  auto r = run({"simulate", "--date", "2026-11-24", "--payments", "200", "--seed", "3", "--threads", "2"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto first = nlohmann::json::parse(r.out);
  EXPECT_EQ(first["payments"], 200);
  const long long posted = first["posted"].get<long long>();
  EXPECT_GT(posted, 0);
  r = run({"simulate", "--date", "2026-11-24", "--payments", "200", "--seed", "3", "--threads", "2"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto second = nlohmann::json::parse(r.out);
  EXPECT_EQ(second["posted"], 0);
  EXPECT_EQ(second["exists"], posted);
  EXPECT_EQ(second["by_channel"], first["by_channel"]);
  EXPECT_EQ(count("promo.payment"), posted);
  EXPECT_EQ(run({"simulate", "--date", "2026-11-24", "--mix", "wechat=x"}).exit_code, 2);
  EXPECT_EQ(run({"simulate", "--date", "2026-11-24", "--mix", "paypal=1"}).exit_code, 2);
}

TEST_F(CliTest, PolicyCommandsSetTheToleranceThatPaymentsMeet) {
  import_example_org();
  auto r = run({"policy", "show"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["in_force"]["future_tolerance"], "5m");
  const std::string tomorrow = ledger::format_timestamp_utc(ledger::now() + std::chrono::hours(24));
  const std::vector<std::string> pay{"pay", "--payment-id", "fut-1", "--payer", "P1", "--merchant", "M1",
                                     "--channel", "wechat", "--amount", "10.00", "--at", tomorrow};
  r = run(pay, true);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "paid_at_in_future");
  EXPECT_EQ(run({"policy", "set", "--future-tolerance", "401d", "--reason", "too far"}).exit_code, 2);
  EXPECT_EQ(run({"policy", "set", "--future-tolerance", "2d"}).exit_code, 2) << "a reason is required";
  r = run({"policy", "set", "--future-tolerance", "2d", "--reason", "rehearsal of tomorrow"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["future_tolerance_seconds"], 172800);
  r = run(pay, true);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run({"policy", "show"}, true);
  EXPECT_EQ(nlohmann::json::parse(r.out)["history"].size(), 3u) << "the migration's, the tests' replay window, this";
}

TEST_F(CliTest, PolicySetsTheReplayWindowThatPaymentsAndReplaysMeet) {
  import_example_org();
  auto r = run({"policy", "show"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["in_force"]["replay_window_days"], 3660) << "the tests' window (test_db.cpp)";
  const std::string ten_days_ago = ledger::format_timestamp_utc(ledger::now() - std::chrono::hours(24 * 10));
  const auto pay = [&](const std::string& id) {
    return run({"pay", "--payment-id", id, "--payer", "P1", "--merchant", "M1", "--channel", "wechat", "--amount",
                "10.00", "--at", ten_days_ago},
               true);
  };
  r = pay("old-1");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  // Refused as usage, nothing recorded: no value, a part of a day, beyond either bound, no reason.
  EXPECT_EQ(run({"policy", "set", "--reason", "nothing to set"}).exit_code, 2);
  EXPECT_EQ(run({"policy", "set", "--replay-window", "36h", "--reason", "not whole days"}).exit_code, 2);
  EXPECT_EQ(run({"policy", "set", "--replay-window", "0d", "--reason", "none"}).exit_code, 2);
  EXPECT_EQ(run({"policy", "set", "--replay-window", "3661d", "--reason", "ten years and a day"}).exit_code, 2);
  EXPECT_EQ(run({"policy", "set", "--replay-window", "5d"}).exit_code, 2) << "a reason is required";
  r = run({"policy", "show"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["history"].size(), 2u) << "no refused change is recorded";

  r = run({"policy", "set", "--replay-window", "5d", "--reason", "claims kept five days in this rehearsal"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto set = nlohmann::json::parse(r.out);
  EXPECT_EQ(set["replay_window"], "5d");
  EXPECT_EQ(set["replay_window_days"], 5);
  EXPECT_EQ(set["future_tolerance"], "5m") << "the tolerance carries on";
  // A payment dated before the window is refused, and so is the replay of one stored before it.
  r = pay("old-2");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "replay_window_passed") << r.out;
  r = pay("old-1");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "replay_window_passed") << r.out;

  // Changing the tolerance keeps the window; the text view shows both.
  r = run({"policy", "set", "--future-tolerance", "2d", "--reason", "rehearsal of tomorrow"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  set = nlohmann::json::parse(r.out);
  EXPECT_EQ(set["future_tolerance"], "2d");
  EXPECT_EQ(set["replay_window_days"], 5) << "the window carries on";
  r = run({"policy", "show"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("replay window     5d"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("replay window  3660d"), std::string::npos) << r.out;

  // A longer window is taken while every entry of the days it brings back still has its claim...
  r = run({"policy", "set", "--replay-window", "20d", "--reason", "the claims are all there"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = pay("old-1");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["status"], "exists") << r.out;
  // ...but not once maintenance deleted the claims before a shorter window: old-1 would post again.
  ASSERT_EQ(run({"policy", "set", "--replay-window", "5d", "--reason", "shorter again"}).exit_code, 0);
  r = run({"db", "maintain"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run({"policy", "set", "--replay-window", "400d", "--reason", "back to the default"}, true);
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE((r.out + r.err).find("have no claim"), std::string::npos) << r.out << r.err;
  r = run({"policy", "set", "--replay-window", "8d", "--reason", "days without entries"}, true);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = pay("old-1");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "replay_window_passed") << r.out;
}

TEST_F(CliTest, TokenRevokeReturnsAndTheTokenIsListedRevoked) {
  ASSERT_EQ(run({"token", "create", "--name", "fin-1", "--role", "finance"}).exit_code, 0);
  // A name that would make the actor "api:<name>" longer than 64 characters is refused at creation.
  const auto long_name = run({"token", "create", "--name", std::string(61, 'o'), "--role", "operator"});
  EXPECT_EQ(long_name.exit_code, 1);
  EXPECT_NE(long_name.err.find("1..60"), std::string::npos) << long_name.err;
  EXPECT_EQ(run({"token", "create", "--name", std::string(60, 'o'), "--role", "operator"}).exit_code, 0);
  // Bounded: with one session in the command's pool, revoke used to wait for a second lease forever.
  const std::string cmd = "timeout 30 " + shell_quote(cli_->bin()) + " --db " + shell_quote(tdb_.conninfo()) +
                          " token revoke fin-1 >/dev/null 2>&1";
  EXPECT_EQ(CliRunner::run_shell(cmd), 0);
  const auto r = run({"token", "list"}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("revoked"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace promoledger::testing
