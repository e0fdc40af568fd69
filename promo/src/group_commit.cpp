#include "promoledger/promo/group_commit.hpp"

#include "promoledger/ledger/assert.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <exception>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include <fmt/format.h>

namespace promoledger::promo {
namespace {

constexpr std::size_t histogram_buckets = 11;  // up to 2^10..2^11-1, which holds batch_size_max
static_assert((std::size_t{1} << histogram_buckets) > PaymentPoster::batch_size_max);

std::size_t bucket_of(std::size_t batch_size) {
  assert(batch_size > 0);
  return static_cast<std::size_t>(std::bit_width(batch_size)) - 1;
}

std::uint64_t merchant_hash(const PaymentRequest& request) { return std::hash<std::string>{}(request.merchant); }

}  // namespace

std::function<std::uint64_t(const PaymentRequest&)> outlet_affinity(ledger::Database& database) {
  auto outlets = std::make_shared<std::unordered_map<std::string, std::uint64_t>>();
  {
    auto lease = database.lease();
    try {
      soci::rowset<soci::row> rows = (lease->prepare << "SELECT code, outlet_id FROM ledger.merchant");
      for (const soci::row& row : rows) {
        outlets->emplace(row.get<std::string>(0), static_cast<std::uint64_t>(row.get<long long>(1)));
      }
    } catch (...) {
      ledger::rethrow_as_database_error("reading the merchants' outlets");
    }
  }
  // Read-only after this point, so the function may be called from any thread.
  return [outlets](const PaymentRequest& request) -> std::uint64_t {
    const auto it = outlets->find(request.merchant);
    return it != outlets->end() ? it->second : merchant_hash(request);
  };
}

GroupCommitPoster::GroupCommitPoster(PaymentPoster& poster, GroupCommitOptions options)
    : poster_(poster), options_(options) {
  if (options_.writers < 1 || options_.writers > GroupCommitOptions::writers_max) {
    throw std::invalid_argument(fmt::format("writers {} is outside 1..{}", options_.writers, GroupCommitOptions::writers_max));
  }
  if (options_.batch_size_max < 1 || options_.batch_size_max > PaymentPoster::batch_size_max) {
    throw std::invalid_argument(
        fmt::format("batch size {} is outside 1..{}", options_.batch_size_max, PaymentPoster::batch_size_max));
  }
  if (options_.queue_depth_max < 1 || options_.queue_depth_max > GroupCommitOptions::queue_depth_limit) {
    throw std::invalid_argument(
        fmt::format("queue depth {} is outside 1..{}", options_.queue_depth_max, GroupCommitOptions::queue_depth_limit));
  }
  stats_.batch_size_log2_histogram.assign(histogram_buckets, 0);
  for (std::size_t i = 0; i < options_.writers; ++i) lanes_.push_back(std::make_unique<Lane>());
  writers_.reserve(options_.writers);
  for (auto& lane : lanes_) writers_.emplace_back([this, &lane = *lane] { writer_loop(lane); });
}

GroupCommitPoster::~GroupCommitPoster() { stop(); }

std::future<GroupCommitPoster::Outcome> GroupCommitPoster::submit(PaymentRequest request) {
  auto promise = std::make_shared<std::promise<Outcome>>();
  auto future = promise->get_future();
  submit(std::move(request), [promise](std::optional<Outcome> outcome, std::exception_ptr failure) {
    if (failure != nullptr) {
      promise->set_exception(failure);
    } else {
      promise->set_value(std::move(*outcome));
    }
  });
  return future;
}

void GroupCommitPoster::submit(PaymentRequest request, Completion done) {
  assert(done);
  const std::uint64_t key = options_.affinity ? options_.affinity(request) : merchant_hash(request);
  Lane& lane = *lanes_[key % lanes_.size()];
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw PosterStopped("the payment poster is stopping; nothing was stored");
    if (queued_ >= options_.queue_depth_max) {
      ++stats_.refused_queue_full;
      throw QueueFull(fmt::format("{} payments are waiting to be posted (the limit); nothing was stored, try again",
                                  queued_));
    }
    lane.queue.push_back(Pending{std::move(request), std::move(done)});
    ++queued_;
  }
  lane.work_ready.notify_one();
}

void GroupCommitPoster::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && writers_.empty()) return;
    stopping_ = true;
  }
  for (auto& lane : lanes_) lane->work_ready.notify_all();
  for (auto& t : writers_) {
    if (t.joinable()) t.join();
  }
  std::lock_guard lock(mutex_);
  writers_.clear();
  assert(queued_ == 0);
}

GroupCommitPoster::Stats GroupCommitPoster::stats() const {
  std::lock_guard lock(mutex_);
  Stats copy = stats_;
  copy.queue_depth = queued_;
  return copy;
}

void GroupCommitPoster::writer_loop(Lane& lane) {
  std::vector<Pending> batch;
  batch.reserve(options_.batch_size_max);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      lane.work_ready.wait(lock, [&] { return !lane.queue.empty() || stopping_; });
      if (lane.queue.empty()) return;  // stopping, and everything queued here has been taken
      // Everything that arrived while this writer was busy, up to the limit: no timer, no waiting.
      const std::size_t take = std::min(lane.queue.size(), options_.batch_size_max);
      for (std::size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(lane.queue.front()));
        lane.queue.pop_front();
      }
      queued_ -= take;
      ++stats_.writers_busy;
    }
    post_one_batch(batch);
    batch.clear();
  }
}

void GroupCommitPoster::post_one_batch(std::vector<Pending>& batch) {
  assert(!batch.empty());
  std::vector<PaymentRequest> requests;
  requests.reserve(batch.size());
  for (auto& p : batch) requests.push_back(std::move(p.request));
  std::vector<Outcome> outcomes;
  std::exception_ptr failure;
  bool unknown = false;
  try {
    outcomes = poster_.post_batch(requests);
    PROMOLEDGER_ASSERT(outcomes.size() == batch.size());  // each caller gets its own payment's answer
  } catch (const ledger::OutcomeUnknown&) {
    failure = std::current_exception();
    unknown = true;
  } catch (...) {
    failure = std::current_exception();
  }
  {
    std::lock_guard lock(mutex_);
    --stats_.writers_busy;
    if (failure == nullptr) {
      ++stats_.batches;
      stats_.payments += batch.size();
      stats_.largest_batch = std::max(stats_.largest_batch, batch.size());
      ++stats_.batch_size_log2_histogram[bucket_of(batch.size())];
    } else if (unknown) {
      ++stats_.unknown_batches;
    } else {
      ++stats_.failed_batches;
    }
  }
  // Callers learn their outcome only now, after post_batch returned: the batch has committed.
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (failure == nullptr) {
      batch[i].done(std::move(outcomes[i]), nullptr);
    } else {
      batch[i].done(std::nullopt, failure);
    }
  }
}

}  // namespace promoledger::promo
