#pragma once
// Group commit: many threads submit payments; a few writer threads each take everything that is
// queued for them (up to batch_size_max) as soon as they are free, post it as one batch through
// PaymentPoster::post_batch (one statement, one transaction), and complete each caller's future only
// after that transaction has committed. There is no timer: at low load a batch is one payment and
// adds no latency; under load the payments that arrive while a batch is being written form the next
// one, so batches grow by themselves and the commit's cost is shared.
//
// Each payment stays all or nothing on its own (promo.post_payments); the batch only shares the
// transaction.
//
// Affinity: each payment goes to the queue of writer `affinity(request) % writers`. A batch holds its
// rows' locks until its commit has been flushed, so two writers whose batches share an account take
// turns, and the one waiting for its flush blocks the other. Routing by the merchant's home outlet
// (outlet_affinity below) keeps the merchant, its deck, its stats row and the outlet's subsidy
// account with one writer, so the writers overlap: one computes while the other's commit flushes
// (measured in docs/benchmarks.md). Any affinity is correct; it only changes who waits. Back pressure: at most queue_depth_max payments wait; submit() refuses beyond that
// with QueueFull instead of letting the queue, and every caller's latency, grow without limit.
//
// Failures of a whole batch reach each of its callers as the future's exception:
// - OutcomeUnknown (ledger/database.hpp): the connection failed in flight; the payment may or may
//   not be stored, and re-sending it with the same payment id is safe (idempotency answers exists).
// - DatabaseError: the batch failed before commit; nothing of it was stored.
// Serialization failures and deadlocks are retried inside post_batch (bounded) before that.
//
// Thread safety: submit(), post() and stats() may be called from any thread. stop() (and the
// destructor) refuses new payments, posts everything already queued, then joins the writers.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "promoledger/promo/payments.hpp"

namespace promoledger::promo {

struct GroupCommitOptions {
  // Writer threads, each posting one batch at a time on a session leased from the Database's pool
  // (so the pool needs at least this many sessions). Two keep the server busy while one commits;
  // more add lock contention on hot merchants for little gain on two cores (docs/benchmarks.md).
  std::size_t writers = 2;
  static constexpr std::size_t writers_max = 16;
  // The largest batch; 1..PaymentPoster::batch_size_max.
  std::size_t batch_size_max = PaymentPoster::batch_size_max;
  // Payments waiting for a writer (all queues together) before submit() refuses; 1..queue_depth_limit.
  std::size_t queue_depth_max = 10'000;
  static constexpr std::size_t queue_depth_limit = 1'000'000;
  // Which writer a payment goes to (modulo writers). Empty: a hash of the merchant code.
  std::function<std::uint64_t(const PaymentRequest&)> affinity;
};

// An affinity by the merchant's home outlet, from the merchants known when it is made (one query);
// a merchant added later, or an unknown code, falls back to a hash of its code.
std::function<std::uint64_t(const PaymentRequest&)> outlet_affinity(ledger::Database& database);

// The queue is full: the service is overloaded. Nothing was stored; try again later.
class QueueFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The poster is stopping or stopped. Nothing was stored.
class PosterStopped : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class GroupCommitPoster {
 public:
  using Outcome = PaymentPoster::Outcome;

  // REQUIRES: options within their limits (throws std::invalid_argument otherwise).
  GroupCommitPoster(PaymentPoster& poster, GroupCommitOptions options);
  ~GroupCommitPoster();
  GroupCommitPoster(const GroupCommitPoster&) = delete;
  GroupCommitPoster& operator=(const GroupCommitPoster&) = delete;

  // Queues a payment. The future holds its outcome once its batch has committed, or the batch's
  // failure (OutcomeUnknown, DatabaseError). Throws QueueFull or PosterStopped, storing nothing.
  std::future<Outcome> submit(PaymentRequest request);
  // The same with a completion instead of a future, for callers that must not block (the service's
  // I/O threads): `done` is called exactly once, on a writer thread, after the batch's commit with the
  // outcome (failure null), or with the batch's failure (outcome empty). It runs before the writer
  // takes its next batch, so it must be short and must not throw: hand the outcome on and return.
  using Completion = std::function<void(std::optional<Outcome> outcome, std::exception_ptr failure)>;
  void submit(PaymentRequest request, Completion done);
  // submit() and wait.
  Outcome post(PaymentRequest request) { return submit(std::move(request)).get(); }

  // Refuses new payments, posts everything queued, joins the writers. Idempotent.
  void stop();

  struct Stats {
    std::uint64_t batches = 0;            // batches posted (committed)
    std::uint64_t payments = 0;           // payments in those batches
    std::uint64_t failed_batches = 0;     // batches that ended with DatabaseError (nothing stored)
    std::uint64_t unknown_batches = 0;    // batches that ended with OutcomeUnknown
    std::uint64_t refused_queue_full = 0; // submit() calls refused with QueueFull
    std::size_t largest_batch = 0;
    std::size_t queue_depth = 0;          // payments waiting now
    std::size_t writers_busy = 0;         // writers posting a batch now
    // Batches by size: [0] size 1, [1] 2..3, [2] 4..7, ... [k] 2^k..2^(k+1)-1.
    std::vector<std::uint64_t> batch_size_log2_histogram;
    double mean_batch_size() const { return batches == 0 ? 0.0 : static_cast<double>(payments) / static_cast<double>(batches); }
  };
  Stats stats() const;

  const GroupCommitOptions& options() const { return options_; }

 private:
  struct Pending {
    PaymentRequest request;
    Completion done;
  };
  // One writer's queue and its wake-up, guarded by mutex_.
  struct Lane {
    std::deque<Pending> queue;
    std::condition_variable work_ready;
  };
  void writer_loop(Lane& lane);
  void post_one_batch(std::vector<Pending>& batch);

  PaymentPoster& poster_;
  const GroupCommitOptions options_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Lane>> lanes_;  // one per writer
  std::size_t queued_ = 0;                    // payments in all lanes
  bool stopping_ = false;
  Stats stats_;
  std::vector<std::thread> writers_;
};

}  // namespace promoledger::promo
