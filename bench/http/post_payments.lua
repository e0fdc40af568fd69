-- wrk script for `scripts/bench.sh`'s http path: every request is a new payment (a fresh payment_id),
-- posted to POST /v1/payments with the bench database's payers and merchants.
--   BENCH_TOKEN      a poster token (required)
--   BENCH_SCENARIO   promo (a random one of BENCH_MERCHANTS spread merchants) | hot-merchant (MPILOT1) |
--                    replay (one of replay_ids payments, each always the same: the first send posts it, every
--                    later one is a replay answered 200 exists; the threads walk the ids in turn)
--   BENCH_THREADS    wrk's thread count (replay: how the threads share the ids; default 2)
--   BENCH_MERCHANTS  spread merchants MB000001.. (default 5000); BENCH_PAYERS payers PB000001.. (default 20000)
-- done() prints one JSON line (prefixed "wrk-json ") with the counts and latency percentiles.
local token = os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN is not set")
local scenario = os.getenv("BENCH_SCENARIO") or "promo"
local merchants = tonumber(os.getenv("BENCH_MERCHANTS") or "5000")
local payers = tonumber(os.getenv("BENCH_PAYERS") or "20000")
local run_tag = os.getenv("BENCH_RUN_TAG") or tostring(os.time())
local threads = tonumber(os.getenv("BENCH_THREADS") or "2")
local replay_ids = 1000

-- setup() runs in the main Lua state, once per wrk thread; thread:set() gives each thread's own state
-- its global thread_id (a global, not a local: a local here would be a separate variable in each state).
local threads_made = 0
function setup(thread)
  threads_made = threads_made + 1
  thread:set("thread_id", threads_made)
end

function init(args)
  math.randomseed(thread_id * 7919 + os.time())
  counter = 0
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  if scenario == "replay" then
    local k = ((counter - 1) * threads + (thread_id - 1)) % replay_ids
    local body = string.format(
      '{"payment_id":"hr%s-%d","payer":"PB%06d","merchant":"MB%06d","channel":"bank_app",' ..
      '"amount":"%d.00","paid_at":"2026-11-24T12:00:00+08:00"}',
      run_tag, k, k % payers + 1, k % merchants + 1, 10 + k % 90)
    return wrk.format(nil, nil, nil, body)
  end
  local merchant
  if scenario == "hot-merchant" then
    merchant = "MPILOT1"
  else
    merchant = string.format("MB%06d", math.random(1, merchants))
  end
  local fen = math.random(1000, 9999)
  local body = string.format(
    '{"payment_id":"h%s-%s-%d-%d","payer":"PB%06d","merchant":"%s","channel":"bank_app",' ..
    '"amount":"%d.%02d","paid_at":"2026-11-24T12:00:00+08:00"}',
    run_tag, scenario, thread_id, counter, math.random(1, payers), merchant, math.floor(fen / 100), fen % 100)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'wrk-json {"requests": %d, "duration_us": %d, "non_2xx": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "latency_ms": {"p50": %.3f, "p95": %.3f, "p99": %.3f, "max": %.3f}}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
