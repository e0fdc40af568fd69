#pragma once
// A payment request read from text: the six fields as a person or a program types them, checked and
// turned into a PaymentRequest, or refused naming the field at fault. The one reader for both the
// command (`pay`, `pay --csv`) and the HTTP API (POST /v1/payments); they differ only in the policy
// (the API will not guess a time zone or a time).
//
// The rules here are the C++ side of rules the database holds again:
//   payment id   1..64 of A-Z a-z 0-9 _ . : -   promo.payment_id_valid(text) and promo.payment's CHECK
//   payer code   1..32 of A-Z a-z 0-9 _ . -     ledger.payer's and ledger.merchant's CHECK on code
// TermsAgreeTest (tests/terms_agree_test.cpp) asks both sides the same questions.
//
// Thread safety: pure functions.

#include <cstddef>
#include <string>
#include <string_view>

#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/refusal.hpp"
#include "promoledger/promo/payments.hpp"

namespace promoledger::promo {

inline constexpr std::size_t payment_id_length_max = 64;
// 1..payment_id_length_max of A-Z a-z 0-9 _ . : - (the ids promo.payment can hold).
bool valid_payment_id(std::string_view id);

inline constexpr std::size_t party_code_length_max = 32;
// A payer or merchant code: 1..party_code_length_max of A-Z a-z 0-9 _ . -
bool valid_party_code(std::string_view code);

// The fields as typed, all text: amount a decimal ("100.00"), paid_at RFC 3339 ("2026-11-24T12:30:00+08:00").
struct PaymentFields {
  std::string payment_id;
  std::string payer;
  std::string merchant;
  std::string channel;
  std::string amount;
  std::string paid_at;
};

struct PaymentInputPolicy {
  // A time without an offset is read as Asia/Shanghai local time (the command, which prints a note);
  // false: refused (the API: a program must say which zone it means).
  bool local_time_without_offset = false;
  // An empty paid_at is the moment of the call (the command); false: refused.
  bool empty_time_is_now = false;
};
inline constexpr PaymentInputPolicy api_payment_input{false, false};
inline constexpr PaymentInputPolicy command_payment_input{true, true};

// The request, or the first field that cannot be one (malformed, or out_of_range for an amount that is
// not positive or too large), its field named as in PaymentFields and its words starting with it:
// "amount: amount \"1.234\" has more than two decimals". Values in messages are cut to 40 characters,
// control characters shown as '?'.
Expected<PaymentRequest, ledger::ValueRefusal> payment_request_from(const PaymentFields& fields, PaymentInputPolicy policy);

}  // namespace promoledger::promo
