// Auditors: a payment's trace from its entry back to the card, deck, seed and campaign; verify.
#include <fmt/format.h>

#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/promo/views.hpp"
#include "routes.hpp"

namespace promoledger::service::detail {

void Service::trace(const Request& req, Response& res) {
  const auto id = path_payment_id(req, res);
  if (!id) return;
  reading(res, [&] {
    auto trace = promo::trace_payment(reports_db(), *id);
    if (!trace) return answer_error(res, 404, "unknown_payment", fmt::format("no payment {}", *id));
    answer(res, 200, *trace);
  });
}

void Service::verify(const Request&, Response& res) {
  reading(res, [&] { answer(res, 200, promo::views::verify(promo::verify_all(work_db_))); });
}

}  // namespace promoledger::service::detail
