#include "promoledger/promo/payments.hpp"

#include <array>
#include "promoledger/ledger/assert.hpp"
#include <charconv>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "promoledger/ledger/ledger.hpp"
#include "promoledger/promo/terms.hpp"

namespace promoledger::promo {
namespace {

using ledger::DatabaseError;

// A rejection by the ledger (a status of ledger.post_entry, or one it could only raise) as the
// promotion's: the two lists share their names, so the ledger's own translation is the only one.
Rejection from_ledger(const ledger::Rejection& rejection, std::string_view what) {
  const std::optional<Reject> code = reject_from_string(ledger::to_string(rejection.code));
  if (!code) {
    throw DatabaseError(fmt::format("{}: the ledger refused with {} ({}), which no payment path expects", what,
                                    ledger::to_string(rejection.code), rejection.message),
                        "");
  }
  return Rejection{*code, payment_field(*code), rejection.message};
}

// A reversal names its own day (business_day), not the payment's time.
Rejection reversal_refused(Rejection r) {
  if (r.code == Reject::business_day_closed) r.field = "business_day";
  return r;
}

}  // namespace

std::string_view to_string(PaymentResult::Status status) {
  return status == PaymentResult::Status::posted ? "posted" : "exists";
}

namespace {

constexpr const char* post_statement_name = "promoledger_post_payments_v1";
constexpr const char* post_statement_sql =
    "SELECT status, payment_id, entry_id, discounted, reason, amount_fen, discount_fen, payer_share_fen, "
    "merchant_share_fen, campaign_id, deck_id, card_position, business_day, detail "
    "FROM promo.post_payments($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[], "
    "$7::date[])";
constexpr int post_columns = 14;
constexpr std::string_view sqlstate_no_such_statement = "26000";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// A failed libpq call as DatabaseError, with the server's SQLSTATE when there is one.
DatabaseError error_of(PGconn* conn, const PGresult* result, std::string_view what_doing) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn);
  // libpq's message already reads "ERROR:  …" (what DatabaseError::primary_message looks for).
  return DatabaseError(fmt::format("{}: {}", what_doing, message != nullptr ? message : "?"),
                       state != nullptr ? state : "");
}

bool succeeded(const PGresult* result) { return result != nullptr && PQresultStatus(result) == PGRES_TUPLES_OK; }

std::int64_t int_at(const PGresult* r, int row, int column) {
  const char* text = PQgetvalue(r, row, column);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text, text + std::strlen(text), value);
  if (error != std::errc() || *end != '\0') {
    throw DatabaseError(fmt::format("post_payments returned \"{}\" where an integer belongs", text), "");
  }
  return value;
}

std::optional<std::int64_t> optional_int_at(const PGresult* r, int row, int column) {
  if (PQgetisnull(r, row, column)) return std::nullopt;
  return int_at(r, row, column);
}

// One result row as the caller's outcome: the figures for posted and exists, a typed rejection else.
PaymentPoster::Outcome outcome_of(const PGresult* r, int row) {
  const std::string status = PQgetvalue(r, row, 0);
  if (status != "posted" && status != "exists") {
    const auto code = reject_from_string(status);
    if (!code) throw DatabaseError(fmt::format("post_payments returned an unknown status \"{}\"", status), "");
    std::string words = PQgetisnull(r, row, 13) ? status : PQgetvalue(r, row, 13);
    if (*code == Reject::exists_with_different_content && !PQgetisnull(r, row, 2)) {
      words += fmt::format(" (first posted as entry {})", int_at(r, row, 2));
    }
    return unexpected(Rejection{*code, payment_field(*code), std::move(words)});
  }
  PaymentResult result;
  result.status = status == "posted" ? PaymentResult::Status::posted : PaymentResult::Status::exists;
  result.payment_id = PQgetvalue(r, row, 1);
  result.entry_id = int_at(r, row, 2);
  result.discounted = std::string_view(PQgetvalue(r, row, 3)) == "t";
  if (!PQgetisnull(r, row, 4)) {
    // One list on both sides (promo/terms.hpp, CHECK payment_reason_known): a reason C++ does not know
    // means the two disagree, which no caller should have to guess about.
    result.reason = no_discount_reason_from_string(PQgetvalue(r, row, 4));
    if (!result.reason) {
      throw DatabaseError(fmt::format("post_payments returned the unknown no-discount reason \"{}\"", PQgetvalue(r, row, 4)),
                          "");
    }
  }
  result.amount = Money::from_fen(int_at(r, row, 5));
  result.discount = Money::from_fen(int_at(r, row, 6));
  result.payer_discount = Money::from_fen(int_at(r, row, 7));
  result.merchant_reward = Money::from_fen(int_at(r, row, 8));
  result.campaign_id = optional_int_at(r, row, 9);
  result.deck_id = optional_int_at(r, row, 10);
  if (auto card = optional_int_at(r, row, 11)) result.card_position = static_cast<std::int32_t>(*card);
  result.business_day = PQgetvalue(r, row, 12);
  // The same properties the database's CHECKs hold, asserted on this side of the boundary too, in every
  // build: a caller must never be told figures that break them (ledger/assert.hpp).
  PROMOLEDGER_ASSERT(result.payer_discount.fen() + result.merchant_reward.fen() == result.discount.fen());
  PROMOLEDGER_ASSERT(result.payer_discount.fen() < result.amount.fen());
  PROMOLEDGER_ASSERT(result.discounted == result.discount.is_positive());
  PROMOLEDGER_ASSERT(result.discounted == result.card_position.has_value());
  PROMOLEDGER_ASSERT(result.discounted != result.reason.has_value());
  return result;
}

// Whether a text can travel as an element of a text[] parameter: libpq ends C strings at a NUL byte,
// and the server refuses a whole array (every payment of the batch) over one invalid UTF-8 sequence.
bool travels(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0) return false;
    std::size_t extra = 0;
    unsigned long code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07u;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // the sequence runs past the end
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cont = static_cast<unsigned char>(text[i + k]);
      if ((cont & 0xC0) != 0x80) return false;
      code = (code << 6) | (cont & 0x3Fu);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    constexpr unsigned long min_of[] = {0, 0x80, 0x800, 0x10000};
    if (code < min_of[extra] || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return false;
    i += extra + 1;
  }
  return true;
}

// A payment whose text cannot travel is refused alone, before the database, with the rejection the
// database would give: such an id is malformed, and no payer or merchant has such a code.
std::optional<Rejection> refused_before_database(const PaymentRequest& r) {
  if (!travels(r.payment_id)) {
    return Rejection{Reject::invalid_payment_id, "payment_id",
                     "payment id must be 1..64 of A-Z a-z 0-9 _ . : - (it holds a NUL byte or invalid UTF-8)"};
  }
  if (!travels(r.payer)) {
    return Rejection{Reject::unknown_payer, "payer", "no payer (the code holds a NUL byte or invalid UTF-8)"};
  }
  if (!travels(r.merchant)) {
    return Rejection{Reject::unknown_merchant, "merchant", "no merchant (the code holds a NUL byte or invalid UTF-8)"};
  }
  return std::nullopt;
}

}  // namespace

PaymentPoster::PaymentPoster(ledger::Database& database) : database_(database) {}

PaymentPoster::Outcome PaymentPoster::post(const PaymentRequest& request) {
  return std::move(post_batch(std::span<const PaymentRequest>(&request, 1)).front());
}

std::vector<PaymentPoster::Outcome> PaymentPoster::post_batch(std::span<const PaymentRequest> requests) {
  PROMOLEDGER_ASSERT(!requests.empty());
  PROMOLEDGER_ASSERT(requests.size() <= batch_size_max);
  std::vector<std::optional<Outcome>> outcomes(requests.size());
  std::vector<std::size_t> sent;  // indexes of the requests that go to the database, in order
  sent.reserve(requests.size());
  ledger::PgArrayLiteral ids, payers, merchants, channels, amounts, paid_at, days;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const PaymentRequest& r = requests[i];
    if (auto refused = refused_before_database(r)) {
      outcomes[i] = unexpected(std::move(*refused));
      continue;
    }
    sent.push_back(i);
    ids.add(r.payment_id);
    payers.add(r.payer);
    merchants.add(r.merchant);
    channels.add(to_string(r.channel));
    amounts.add(std::to_string(r.amount.fen()));
    paid_at.add(ledger::format_timestamp_utc(r.paid_at));
    // The business day is decided here with the tz database and checked again by the database.
    days.add(ledger::format_day(ledger::business_day_of(r.paid_at)));
  }
  if (!sent.empty()) {
    const std::array<std::string, 7> arrays{std::move(ids).finish(),      std::move(payers).finish(),
                                            std::move(merchants).finish(), std::move(channels).finish(),
                                            std::move(amounts).finish(),   std::move(paid_at).finish(),
                                            std::move(days).finish()};
    std::array<const char*, 7> values{};
    for (std::size_t a = 0; a < arrays.size(); ++a) values[a] = arrays[a].c_str();
    const std::string what = fmt::format("posting a batch of {} payment(s) from {}", sent.size(),
                                         requests[sent.front()].payment_id);
    Result result = ledger::with_retry([&]() -> Result {
      auto lease = database_.lease();
      PGconn* conn = ledger::native_handle(*lease);
      bool prepared = false;
      {
        std::lock_guard lock(prepared_mutex_);
        prepared = prepared_on_.count(conn) != 0;
      }
      for (int attempt = 0; attempt < 2; ++attempt) {
        if (!prepared) {
          Result p(PQprepare(conn, post_statement_name, post_statement_sql, 0, nullptr));
          if (p == nullptr || PQresultStatus(p.get()) != PGRES_COMMAND_OK) {
            const DatabaseError e = error_of(conn, p.get(), what);
            // Prepared already on this connection (by another PaymentPoster sharing the pool): use it.
            if (e.sqlstate() != "42P05") throw e;
          }
          std::lock_guard lock(prepared_mutex_);
          prepared_on_.insert(conn);
          prepared = true;
        }
        // One statement, one round trip, one transaction (autocommit): when the result arrives,
        // the batch has committed. That holds only outside a transaction block, so a session left in
        // one is refused before anything is sent.
        if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
          throw DatabaseError(fmt::format("{}: the session is inside a transaction; nothing was sent", what), "25000");
        }
        Result r(PQexecPrepared(conn, post_statement_name, static_cast<int>(values.size()), values.data(), nullptr,
                                nullptr, 0));
        if (succeeded(r.get())) return r;
        DatabaseError e = error_of(conn, r.get(), what);
        if (e.sqlstate() == sqlstate_no_such_statement && attempt == 0) {
          prepared = false;  // the session was reconnected: the server forgot the statement
          continue;
        }
        if (ledger::is_connection_failure(e)) {
          throw ledger::OutcomeUnknown(
              fmt::format("{} — the connection failed in flight, so the outcome is unknown: re-send these payments "
                          "with the same payment ids (a stored one answers exists with its figures)",
                          e.what()),
              e.sqlstate());
        }
        throw e;
      }
      throw DatabaseError(fmt::format("{}: the statement could not be prepared", what), "");
    });
    // The batch has committed: an answer that cannot be read says nothing of what was stored.
    try {
      if (PQntuples(result.get()) != static_cast<int>(sent.size()) || PQnfields(result.get()) != post_columns) {
        throw DatabaseError(fmt::format("{} result rows of {} columns for {} payments", PQntuples(result.get()),
                                        PQnfields(result.get()), sent.size()),
                            "");
      }
      for (std::size_t row = 0; row < sent.size(); ++row) {
        outcomes[sent[row]] = outcome_of(result.get(), static_cast<int>(row));
      }
    } catch (const DatabaseError& e) {
      throw ledger::OutcomeUnknown(fmt::format("{}: committed, but the answer could not be read ({}): re-send with the "
                                               "same payment ids to read the stored figures",
                                               what, e.what()),
                                   "");
    }
  }
  std::vector<Outcome> out;
  out.reserve(outcomes.size());
  for (auto& o : outcomes) {
    PROMOLEDGER_ASSERT(o.has_value());  // one answer per payment of the batch
    out.push_back(std::move(*o));
  }
  return out;
}

Expected<ReversalResult, Rejection> PaymentPoster::reverse(const std::string& payment_id,
                                                           std::optional<date::year_month_day> day) {
  const std::string day_text = ledger::format_day(day.value_or(ledger::business_day_of(ledger::now())));
  const std::string what = fmt::format("reversing payment {}", payment_id);
  return ledger::with_retry([&]() -> Expected<ReversalResult, Rejection> {
    auto lease = database_.lease();
    std::string status, detail;
    long long entry_id = 0;
    soci::indicator entry_ind = soci::i_ok;
    try {
      *lease << "SELECT status, entry_id, coalesce(detail, '') FROM promo.reverse_payment(:id, CAST(:day AS date))",
          soci::use(payment_id), soci::use(day_text), soci::into(status), soci::into(entry_id, entry_ind),
          soci::into(detail);
    } catch (...) {
      try {
        ledger::rethrow_as_database_error(what);
      } catch (const DatabaseError& e) {
        if (auto rejection = ledger::rejection_from(e)) return unexpected(reversal_refused(from_ledger(*rejection, what)));
        throw;
      }
    }
    if (status == "posted" || status == "exists") {
      return ReversalResult{status == "posted" ? ReversalResult::Status::posted : ReversalResult::Status::exists,
                            entry_id};
    }
    if (status == "unknown_payment") return unexpected(Rejection{Reject::unknown_payment, "payment_id", detail});
    // Every other status is ledger.post_entry's or ledger.reverse_entry's (exists_with_different_content:
    // the same reversal sent again with another business day).
    const std::optional<ledger::Reject> code = ledger::reject_from_string(status);
    if (!code) throw DatabaseError(fmt::format("{}: unexpected status {} ({})", what, status, detail), "");
    return unexpected(reversal_refused(from_ledger(ledger::Rejection{*code, "", detail}, what)));
  });
}

}  // namespace promoledger::promo

namespace promoledger::promo {

std::optional<StoredPayment> find_payment(ledger::Database& database, const std::string& payment_id) {
  auto lease = database.lease();
  try {
    soci::row r;
    *lease << "SELECT p.entry_id, p.reason, p.amount_fen, p.discount_fen, p.payer_share_fen, p.merchant_share_fen, "
              "p.campaign_id, p.deck_id, p.card_position, p.business_day::text, py.code, m.code, p.channel, "
              "to_char(p.paid_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
              "r.entry_id, r.business_day::text "
              "FROM promo.payment p JOIN ledger.payer py ON py.id = p.payer_id "
              "JOIN ledger.merchant m ON m.id = p.merchant_id "
              "LEFT JOIN promo.payment_reversal r ON r.payment_id = p.payment_id WHERE p.payment_id = :id",
        soci::use(payment_id), soci::into(r);
    if (!lease->got_data()) return std::nullopt;
    const auto optional_int = [&r](std::size_t i) -> std::optional<std::int64_t> {
      if (r.get_indicator(i) != soci::i_ok) return std::nullopt;
      return r.get<long long>(i);
    };
    StoredPayment out;
    PaymentResult& p = out.result;
    p.status = PaymentResult::Status::posted;
    p.payment_id = payment_id;
    p.entry_id = r.get<long long>(0);
    if (r.get_indicator(1) == soci::i_ok) {
      p.reason = no_discount_reason_from_string(r.get<std::string>(1));
      if (!p.reason) throw ledger::DatabaseError("promo.payment holds an unknown no-discount reason", "");
    }
    p.discounted = !p.reason.has_value();
    p.amount = Money::from_fen(r.get<long long>(2));
    p.discount = Money::from_fen(r.get<long long>(3));
    p.payer_discount = Money::from_fen(r.get<long long>(4));
    p.merchant_reward = Money::from_fen(r.get<long long>(5));
    p.campaign_id = optional_int(6);
    p.deck_id = optional_int(7);
    if (r.get_indicator(8) == soci::i_ok) p.card_position = r.get<int>(8);
    p.business_day = r.get<std::string>(9);
    out.payer = r.get<std::string>(10);
    out.merchant = r.get<std::string>(11);
    const auto channel = channel_from_string(r.get<std::string>(12));
    if (!channel) throw ledger::DatabaseError("promo.payment holds an unknown channel", "");
    out.channel = *channel;
    out.paid_at_utc = r.get<std::string>(13);
    if (r.get_indicator(14) == soci::i_ok) out.reversal = StoredPayment::Reversal{r.get<long long>(14), r.get<std::string>(15)};
    return out;
  } catch (const ledger::DatabaseError&) {
    throw;
  } catch (...) {
    ledger::rethrow_as_database_error("find_payment");
  }
}

}  // namespace promoledger::promo
