// Payments: POST /v1/payments (through the group-commit poster, answered after the batch's commit),
// GET /v1/payments/{payment_id}, POST /v1/payments/{payment_id}/reversal.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "promoledger/promo/views.hpp"
#include "promoledger/service/request_parsing.hpp"
#include "routes.hpp"

namespace promoledger::service::detail {

// Parsed here, on the I/O thread, and queued for a writer; the writer's completion hands the answer
// to `reply` (which posts it onto the connection's executor) once the batch has committed. Nothing
// waits: the I/O thread goes on with other connections meanwhile.
void Service::post_payment(Request req, Reply reply) {
  Response res;
  auto request = parse_payment_body(req.body);
  if (!request) {
    answer_bad_request(res, request.error());
    return reply(std::move(res));
  }
  const auto started = Clock::now();
  auto done = [this, started, reply](std::optional<promo::GroupCommitPoster::Outcome> outcome,
                                     std::exception_ptr failure) mutable {
    Response answer_of;
    try {
      if (failure != nullptr) std::rethrow_exception(failure);
    } catch (const ledger::OutcomeUnknown& e) {
      spdlog::warn("payment outcome unknown: {}", e.what());
      metrics_.count_rejection("outcome_unknown");
      answer_error(answer_of, 503, "outcome_unknown",
                   "the database connection failed while the payment was being committed: it may or may not be "
                   "stored; re-send it with the same payment_id (a stored one answers exists)");
      return reply(std::move(answer_of));
    } catch (const ledger::DatabaseError& e) {
      metrics_.count_rejection("database");
      if (ledger::is_connection_failure(e)) {
        answer_error(answer_of, 503, "database_unavailable",
                     "the database cannot be reached; nothing was stored, re-send with the same payment_id");
      } else {
        spdlog::error("payment batch failed: {}", e.what());
        answer_error(answer_of, 500, "internal",
                     "the batch holding this payment failed; nothing of it was stored, re-send with the same payment_id");
      }
      return reply(std::move(answer_of));
    } catch (const std::exception& e) {
      spdlog::error("payment batch failed: {}", e.what());
      answer_error(answer_of, 500, "internal", "the batch holding this payment failed; re-send with the same payment_id");
      return reply(std::move(answer_of));
    }
    metrics_.observe_posting(Clock::now() - started);
    if (!*outcome) {
      metrics_.count_rejection(std::string(promo::to_string(outcome->error().code)));
      answer_rejection(answer_of, outcome->error());
      return reply(std::move(answer_of));
    }
    const promo::PaymentResult& result = **outcome;
    answer(answer_of, result.status == promo::PaymentResult::Status::posted ? 201 : 200, promo::views::payment(result));
    reply(std::move(answer_of));
  };
  try {
    group_.submit(std::move(*request), std::move(done));
  } catch (const promo::QueueFull&) {
    metrics_.count_rejection("queue_full");
    answer_error(res, 503, "queue_full", "the posting queue is full; nothing was stored, try again shortly");
    reply(std::move(res));
  } catch (const promo::PosterStopped&) {
    answer_error(res, 503, "shutting_down", "the service is stopping; nothing was stored, try another instance");
    reply(std::move(res));
  }
}

void Service::get_payment(const Request& req, Response& res) {
  const auto id = path_payment_id(req, res);
  if (!id) return;
  reading(res, [&] {
    const auto stored = promo::find_payment(work_db_, *id);
    if (!stored) return answer_error(res, 404, "unknown_payment", fmt::format("no payment {}", *id));
    answer(res, 200, promo::views::stored_payment(*stored));
  });
}

void Service::reverse_payment(const Request& req, Response& res) {
  const auto id = path_payment_id(req, res);
  if (!id) return;
  auto day = parse_reversal_body(req.body);
  if (!day) return answer_bad_request(res, day.error());
  reading(res, [&] {
    auto result = poster_.reverse(*id, *day);
    if (!result) return answer_rejection(res, result.error());
    answer(res, result->status == promo::ReversalResult::Status::posted ? 201 : 200, promo::views::reversal(*id, *result));
  });
}

}  // namespace promoledger::service::detail
