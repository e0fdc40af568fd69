#include "promoledger/promo/group_commit.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <exception>
#include <stdexcept>

#include <fmt/format.h>

namespace promoledger::promo {
namespace {

constexpr std::size_t histogram_buckets = 11;  // up to 2^10..2^11-1, which holds batch_size_max
static_assert((std::size_t{1} << histogram_buckets) > PaymentPoster::batch_size_max);

std::size_t bucket_of(std::size_t batch_size) {
  assert(batch_size > 0);
  return static_cast<std::size_t>(std::bit_width(batch_size)) - 1;
}

}  // namespace

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
  writers_.reserve(options_.writers);
  for (std::size_t i = 0; i < options_.writers; ++i) writers_.emplace_back([this] { writer_loop(); });
}

GroupCommitPoster::~GroupCommitPoster() { stop(); }

std::future<GroupCommitPoster::Outcome> GroupCommitPoster::submit(PaymentRequest request) {
  std::future<Outcome> future;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw PosterStopped("the payment poster is stopping; nothing was stored");
    if (queue_.size() >= options_.queue_depth_max) {
      ++stats_.refused_queue_full;
      throw QueueFull(fmt::format("{} payments are waiting to be posted (the limit); nothing was stored, try again",
                                  queue_.size()));
    }
    queue_.push_back(Pending{std::move(request), {}});
    future = queue_.back().promise.get_future();
  }
  work_ready_.notify_one();
  return future;
}

void GroupCommitPoster::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && writers_.empty()) return;
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& t : writers_) {
    if (t.joinable()) t.join();
  }
  std::lock_guard lock(mutex_);
  writers_.clear();
  assert(queue_.empty());
}

GroupCommitPoster::Stats GroupCommitPoster::stats() const {
  std::lock_guard lock(mutex_);
  Stats copy = stats_;
  copy.queue_depth = queue_.size();
  return copy;
}

void GroupCommitPoster::writer_loop() {
  std::vector<Pending> batch;
  batch.reserve(options_.batch_size_max);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and everything queued has been taken
      // Everything that arrived while this writer was busy, up to the limit: no timer, no waiting.
      const std::size_t take = std::min(queue_.size(), options_.batch_size_max);
      for (std::size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      ++stats_.writers_busy;
    }
    // Another writer may take what is left while this one posts.
    work_ready_.notify_one();
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
    assert(outcomes.size() == batch.size());
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
      batch[i].promise.set_value(std::move(outcomes[i]));
    } else {
      batch[i].promise.set_exception(failure);
    }
  }
}

}  // namespace promoledger::promo
