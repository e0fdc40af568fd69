#pragma once
// An assertion that stays on in every build, release included (TigerBeetle ships its assertions: a
// ledger that finds itself in a state it cannot be in must stop rather than go on posting).
//
//   PROMOLEDGER_ASSERT(condition)   on a false condition: one line on stderr (the condition's text, file,
//                                   line, function), then std::abort(); never compiled out
//   assert(condition)               <cassert>: compiled out under NDEBUG (the RelWithDebInfo and Release
//                                   builds); only for cheap checks of a programmer's own arguments whose
//                                   breach cannot reach money or the database (a bad index into a table
//                                   being built, a REQUIRES of a pure helper that its tests cover)
//
// Which to use. PROMOLEDGER_ASSERT for an invariant whose breach means the process holds a wrong view of
// money or of what was committed: the figures of a posted payment (the halves add up to the discount,
// the payer pays a positive amount), one answer per payment of a batch, a balanced entry, a name for
// every stored enum value. Business input is never asserted: it is refused (ledger/refusal.hpp).
//
// Why a macro, and why this name: only a macro can show the condition's text and its place without
// evaluating anything on the good path; macros have no namespace, so the project's name comes first,
// and it is not `assert` or `ASSERT`, which <cassert> and GoogleTest (ASSERT_TRUE, …) already own.
// It works inside constexpr functions: a false condition during constant evaluation does not compile.
//
// Cost: one predictable branch; the failure path is out of line and cold.

#include <cstdio>
#include <cstdlib>

namespace promoledger::ledger::assert_detail {

[[noreturn]] [[gnu::cold]] [[gnu::noinline]] inline void assertion_failed(const char* condition, const char* file,
                                                                          int line, const char* function) noexcept {
  std::fprintf(stderr, "promoledger: assertion failed: %s (%s:%d, %s); stopping\n", condition, file, line, function);
  std::fflush(stderr);
  std::abort();
}

}  // namespace promoledger::ledger::assert_detail

#define PROMOLEDGER_ASSERT(condition)                                                                        \
  (__builtin_expect(static_cast<bool>(condition), 1)                                                          \
       ? static_cast<void>(0)                                                                                 \
       : ::promoledger::ledger::assert_detail::assertion_failed(#condition, __FILE__, __LINE__, __func__))
