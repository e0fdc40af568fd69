// The end-of-day routes (docs/integration.md): the GL batches of a day and a batch's file, a merchant's
// statement of a closed day, the reconciliations of a day. Read-only, each one library call into eod/
// rendered by eod::views (the same JSON as the commands' --json). Refusals answer the one refusal
// shape {"error", "field", "message"}. Kept apart from routes.cpp so that the route table gains one
// line (Service::routes appends these).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "promoledger/eod/gl.hpp"
#include "promoledger/eod/reconcile.hpp"
#include "promoledger/eod/statement.hpp"
#include "promoledger/eod/views.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "routes.hpp"

namespace promoledger::service::detail {
namespace {

using nlohmann::json;

int status_of(eod::Code code) {
  switch (code) {
    case eod::Code::unknown_batch:
    case eod::Code::unknown_merchant:
    case eod::Code::unknown_branch:
    case eod::Code::unknown_line:
      return 404;
    case eod::Code::business_day_open:
    case eod::Code::extract_differs:
    case eod::Code::unmapped_accounts:
      return 409;
    default:
      return 400;
  }
}

void answer_refusal(Response& res, const eod::EodRefusal& r) {
  answer_error(res, status_of(r.code), std::string(eod::to_string(r.code)), r.message, r.field);
}

// A read: a database failure becomes 503 (unreachable) or 500.
template <class F>
void reading(Response& res, F&& read) {
  try {
    read();
  } catch (const ledger::DatabaseError& e) {
    answer_database_error(res, e);
  }
}

std::optional<date::year_month_day> day_param(Response& res, const char* name, const std::string& text) {
  if (text.empty()) {
    answer_error(res, 400, "invalid_field", fmt::format("{} is required (YYYY-MM-DD)", name), name);
    return std::nullopt;
  }
  auto day = ledger::parse_day(text);
  if (!day) {
    answer_error(res, 400, "invalid_field", fmt::format("{}: {}", name, day.error().message), name);
    return std::nullopt;
  }
  return *day;
}

}  // namespace

std::vector<Route> eod_routes(ledger::Database* read_db) {
  return {
      {"GET", "/v1/gl/batches", finance | auditor, Runs::pool,
       [read_db](const Request& req, Response& res) {
         const auto day = day_param(res, "date", req.param("date"));
         if (!day) return;
         reading(res, [&] {
           json list = json::array();
           for (const auto& b : eod::batches_of_day(*read_db, *day)) list.push_back(eod::views::to_json(b));
           answer(res, 200, list);
         });
       }},
      {"GET", "/v1/gl/batches/{batch_id}", finance | auditor, Runs::pool,
       [read_db](const Request& req, Response& res) {
         const std::string& id = req.path_params[0];
         reading(res, [&] {
           const auto file = eod::batch_file(*read_db, id);
           if (!file) return answer_refusal(res, file.error());
           res.status = 200;
           res.set_header("Content-Disposition", fmt::format("attachment; filename=\"{}\"", file->file_name));
           res.set_content(file->content, "text/csv; charset=utf-8");
         });
       }},
      {"GET", "/v1/merchants/{code}/statements/{date}", finance, Runs::pool,
       [read_db](const Request& req, Response& res) {
         const std::string& code = req.path_params[0];
         const auto day = day_param(res, "date", req.path_params[1]);
         if (!day) return;
         const std::string format = req.param_or("format", "camt053");
         const std::string version = req.param_or("camt_version", "2");
         if (format != "camt053" && format != "csv") {
           return answer_error(res, 400, "invalid_format", "format is camt053 (default) or csv", "format");
         }
         if (version != "2" && version != "12") {
           return answer_error(res, 400, "invalid_format", "camt_version is 2 (default) or 12", "camt_version");
         }
         reading(res, [&] {
           const auto st = eod::merchant_statement(*read_db, code, *day);
           if (!st) return answer_refusal(res, st.error());
           res.status = 200;
           if (format == "csv") {
             res.set_content(eod::to_csv(*st), "text/csv; charset=utf-8");
             return;
           }
           res.set_content(eod::to_camt053(*st, version == "12" ? eod::CamtVersion::v12 : eod::CamtVersion::v02),
                           "application/xml; charset=utf-8");
         });
       }},
      {"GET", "/v1/reconciliations", finance | auditor | operator_, Runs::pool,
       [read_db](const Request& req, Response& res) {
         const auto day = day_param(res, "date", req.param("date"));
         if (!day) return;
         reading(res, [&] {
           json runs = json::array();
           for (const auto& r : eod::runs_of_day(*read_db, *day)) runs.push_back(eod::views::to_json(r));
           answer(res, 200, json{{"date", ledger::format_day(*day)}, {"runs", runs}});
         });
       }},
  };
}

}  // namespace promoledger::service::detail
