#pragma once
// One shape for every refusal a caller must handle (docs/architecture.md, "Failure handling"): a stable
// code, the input it concerns, and words for a person. Functions that can refuse return
// Expected<T, Refusal<Code>>, where Code is a flat enum of stable names (ledger/names.hpp gives
// name_of / value_named over its table); the API renders any of them as
//   {"error": name_of(code), "field": field, "message": message}
// and the command prints the message. Exceptions are kept for failures of the machine (the database is
// unreachable, a bug), never for an outcome a caller is expected to handle.
//
//   code     what went wrong, for a program: branch on it, count it, never on the message
//   field    the input at fault as the caller named it ("amount", "merchants", "to", "payment_id"), or
//            empty when no single input is (a closed day, a full budget). A parser of one value does not
//            know the name its caller gives the value: the caller sets it with about()
//   message  for a person: what and where, a complete sentence that names the input too ("amount:
//            \"1.234\" has more than two decimals"), so that it reads well alone in a log or a terminal.
//            Never parsed by a program: that is what code and field are for.
//
// Thread safety: a value type.

#include <string>
#include <string_view>
#include <utility>

namespace promoledger::ledger {

template <class Code>
struct Refusal {
  Code code;
  std::string field;
  std::string message;

  // The three parts, always all three: a constructor rather than aggregate initialisation, so that a
  // refusal written with two of them (Refusal{code, "words"}) does not compile instead of putting the
  // words into the field.
  Refusal(Code code_, std::string field_, std::string message_)
      : code(code_), field(std::move(field_)), message(std::move(message_)) {}
};

// The same refusal about the input the caller calls `field`: the field set, and the message prefixed
// with it ("to: date \"2026-02-30\" is not a calendar date"). Used where a parser of one value (an
// amount, a day) is called for a named input.
template <class Code>
Refusal<Code> about(std::string_view field, Refusal<Code> refusal) {
  refusal.message = std::string(field) + ": " + refusal.message;
  refusal.field = std::string(field);
  return refusal;
}

// Why a value read from text was refused: the refusal of every parser of one value (an amount, a day,
// a time, a day range, a tolerance, a channel mix).
enum class InvalidValue {
  malformed,     // not of the value's form: "1e3" for an amount, "2026-13-01" for a day, "5 minutes"
  out_of_range,  // of the right form but outside its limits: an amount above Money::fen_abs_max, a
                 // year after 2199, a range whose start is after its end or longer than ten years
};
std::string_view to_string(InvalidValue);
using ValueRefusal = Refusal<InvalidValue>;

}  // namespace promoledger::ledger
