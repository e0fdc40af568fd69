// The end-of-day routes as core banking, finance and operations meet them: the real `promoledger serve`
// on a free 127.0.0.1 port, over HTTP, on the fixture's closed day. Each answer is compared with what the
// library (and so the commands) give: the GL file byte for byte, the statement's XML, the stored
// reconciliation; refusals in the one shape {"error", "field", "message"}; roles as the OpenAPI
// document lists them; and the outlet report's xlsx download.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "eod_clearing_files.hpp"
#include "eod_fixture.hpp"
#include "http_client.hpp"
#include "promoledger/eod/gl.hpp"
#include "promoledger/eod/reconcile.hpp"
#include "promoledger/eod/statement.hpp"

extern char** environ;

namespace promoledger::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// `promoledger serve --listen 127.0.0.1:0`, killed when the test ends.
class Serve {
 public:
  ~Serve() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (out_ >= 0) ::close(out_);
  }
  std::string start(const std::string& bin, const std::string& conninfo, const std::filesystem::path& log) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return "pipe2 failed";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> all{bin, "--db", conninfo, "serve", "--listen", "127.0.0.1:0"};
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = fds[0];
    if (rc != 0) return "posix_spawn failed";
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (line.find('\n') == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return "no 'listening on' line: " + slurp(log);
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) return "the service ended: " + slurp(log);
      line.append(buf, static_cast<std::size_t>(n));
    }
    port_ = std::atoi(line.c_str() + line.rfind(':') + 1);
    return port_ > 0 ? "" : "no port in " + line;
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int port_ = 0;
};

struct Reply {
  int status = -1;
  std::string body;
  std::string content_type;
  json js() const { return json::parse(body, nullptr, false); }
};

class EodServiceTest : public EodTest {
 protected:
  void SetUp() override {
    EodTest::SetUp();
    const auto bin = promoledger_bin();
    ASSERT_TRUE(bin.has_value()) << "PROMOLEDGER_BIN is not set";
    dir_ = std::filesystem::temp_directory_path() / ("promoledger-eod-service-" + tdb_.name());
    cli_.emplace(*bin, tdb_.conninfo(), dir_);
    for (const char* role : {"finance", "auditor", "operator", "poster"}) {
      const auto made = cli_->run({"token", "create", "--name", std::string("eod-") + role, "--role", role}, true);
      ASSERT_EQ(made.exit_code, 0) << made.err;
      tokens_[role] = json::parse(made.out)["token"].get<std::string>();
    }
    map_everything();
    extract_ = eod::extract_day(db(), day("2026-11-24")).value();
    const std::string error = serve_.start(*bin, tdb_.conninfo(), dir_ / "serve.log");
    ASSERT_EQ(error, "");
  }
  void TearDown() override { cli_.reset(); }

  Reply get(const std::string& path, const std::string& role) {
    HttpClient client("127.0.0.1", serve_.port());
    client.set_read_timeout(60s);
    Headers headers;
    if (!role.empty()) headers.emplace("Authorization", "Bearer " + tokens_.at(role));
    const auto r = client.get(path, headers);
    Reply out;
    if (r.status < 0) return out;
    out.status = r.status;
    out.body = r.body;
    out.content_type = r.header("Content-Type");
    return out;
  }

  std::filesystem::path dir_;
  std::optional<CliRunner> cli_;
  std::map<std::string, std::string> tokens_;
  eod::GlExtract extract_;
  Serve serve_;
};

TEST_F(EodServiceTest, GlBatchesAreListedAndServedByteForByte) {
  const auto list = get("/v1/gl/batches?date=2026-11-24", "finance");
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.js().size(), 2u);
  EXPECT_EQ(list.js()[0]["batch_id"], "PROMO-20261124-BR1-001");
  EXPECT_EQ(list.js()[0]["status"], "extracted");
  EXPECT_EQ(get("/v1/gl/batches?date=2026-11-20", "auditor").js(), json::array());

  const auto file = get("/v1/gl/batches/PROMO-20261124-BR1-001", "auditor");
  ASSERT_EQ(file.status, 200) << file.body;
  EXPECT_EQ(file.body, extract_.files[0].content);
  EXPECT_NE(file.content_type.find("text/csv"), std::string::npos);

  const auto unknown = get("/v1/gl/batches/PROMO-20261124-BR9-001", "finance");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.js()["error"], "unknown_batch");
  EXPECT_EQ(unknown.js()["field"], "batch_id");
  const auto no_date = get("/v1/gl/batches", "finance");
  EXPECT_EQ(no_date.status, 400);
  EXPECT_EQ(no_date.js()["field"], "date");
  EXPECT_EQ(get("/v1/gl/batches?date=2026-11-24", "poster").status, 403);
  EXPECT_EQ(get("/v1/gl/batches/PROMO-20261124-BR1-001", "operator").status, 403);
  EXPECT_EQ(get("/v1/gl/batches?date=2026-11-24", "").status, 401);
}

TEST_F(EodServiceTest, StatementsAreTheCommandsDocumentsAndRefuseAnOpenDay) {
  const auto st = eod::merchant_statement(db(), "M3", day("2026-11-24")).value();
  const auto xml = get("/v1/merchants/M3/statements/2026-11-24", "finance");
  ASSERT_EQ(xml.status, 200) << xml.body;
  EXPECT_EQ(xml.body, eod::to_camt053(st, eod::CamtVersion::v02));
  EXPECT_NE(xml.content_type.find("application/xml"), std::string::npos);
  EXPECT_EQ(get("/v1/merchants/M3/statements/2026-11-24?camt_version=12", "finance").body,
            eod::to_camt053(st, eod::CamtVersion::v12));
  const auto csv = get("/v1/merchants/M3/statements/2026-11-24?format=csv", "finance");
  EXPECT_EQ(csv.body, eod::to_csv(st));

  const auto open = get("/v1/merchants/M3/statements/2026-11-25", "finance");
  EXPECT_EQ(open.status, 409);
  EXPECT_EQ(open.js()["error"], "business_day_open");
  EXPECT_EQ(open.js()["field"], "date");
  EXPECT_EQ(get("/v1/merchants/M99/statements/2026-11-24", "finance").js()["error"], "unknown_merchant");
  const auto bad_day = get("/v1/merchants/M3/statements/2026-02-30", "finance");
  EXPECT_EQ(bad_day.status, 400);
  EXPECT_EQ(bad_day.js()["field"], "date");
  EXPECT_EQ(get("/v1/merchants/M3/statements/2026-11-24?camt_version=9", "finance").status, 400);
  EXPECT_EQ(get("/v1/merchants/M3/statements/2026-11-24", "auditor").status, 403);
}

TEST_F(EodServiceTest, ReconciliationsListTheDaysRunsWithTheirDifferences) {
  const auto clean = eod::reconcile(db(), eod::Profile::wechat, day("2026-11-24"), "wechat.csv",
                                    eod::clearing_file_of_day(db(), eod::Profile::wechat, day("2026-11-24")).value());
  ASSERT_TRUE(clean.has_value());
  const auto planted = eod::reconcile(db(), eod::Profile::alipay, day("2026-11-24"), "alipay.csv",
                                      alipay_detail({{"e5", "22.00", "2026-11-24 12:00:00", "交易"}}));
  ASSERT_TRUE(planted.has_value());
  const auto answer = get("/v1/reconciliations?date=2026-11-24", "operator");
  ASSERT_EQ(answer.status, 200) << answer.body;
  const json runs = answer.js()["runs"];
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0]["profile"], "alipay");  // newest first
  EXPECT_EQ(runs[0]["counts"]["LEDGER_ONLY"], 1);
  EXPECT_EQ(runs[0]["differences"][0]["payment_id"], "e7");
  EXPECT_EQ(runs[1]["counts"]["MATCHED"], 3);
  EXPECT_EQ(runs[1]["differences_total"], 0);
  EXPECT_EQ(get("/v1/reconciliations?date=2026-11-24", "finance").status, 200);
  EXPECT_EQ(get("/v1/reconciliations?date=2026-11-24", "poster").status, 403);
  EXPECT_EQ(get("/v1/reconciliations?date=24.11.2026", "auditor").js()["field"], "date");
}

TEST_F(EodServiceTest, TheOutletReportDownloadsAsXlsxAndTheConsoleHasTheReconciliationPage) {
  const auto xlsx = get("/v1/reports/outlets?from=2026-11-24&to=2026-11-24&format=xlsx", "finance");
  ASSERT_EQ(xlsx.status, 200);
  EXPECT_EQ(xlsx.body.substr(0, 2), "PK");  // a zip, as every xlsx
  EXPECT_EQ(xlsx.content_type, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  // The same workbook as the command's --xlsx: unzipped, the sheet names the same outlets.
  const auto path = dir_ / "download.xlsx";
  {
    std::ofstream out(path, std::ios::binary);
    out << xlsx.body;
  }
  ASSERT_EQ(CliRunner::run_shell(fmt::format("unzip -q -o {} -d {}", shell_quote(path.string()),
                                             shell_quote((dir_ / "download").string()))),
            0);
  EXPECT_NE(slurp(dir_ / "download" / "xl" / "sharedStrings.xml").find("<t>O3</t>"), std::string::npos);
  // The console's page shell (the script fills it from /v1/reconciliations; tests/console covers the browser).
  HttpClient client("127.0.0.1", serve_.port());
  const auto page = client.get("/console/reconciliation");
  EXPECT_EQ(page.status, 303) << page.describe() << ": a page without a session goes to sign-in";
}

}  // namespace
}  // namespace promoledger::testing
