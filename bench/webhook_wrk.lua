-- wrk script for bench/webhook_load.py: POSTs Dalgo's failure body for a distinct flow run each time
-- (so every request is recorded, none deduplicated). Args: <webhook key> <run prefix, 0-65535>.
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  key = args[1]
  prefix = tonumber(args[2])
  counter = 0
end

function request()
  counter = counter + 1
  local run_id = string.format("%08x-%04x-4000-8000-%04x%08x", counter, prefix, tid, counter)
  local body = '{"body": "Flow run wrk-' .. tid .. '-' .. counter .. ' with id ' .. run_id .. ' entered state Failed"}'
  return wrk.format("POST", "/webhooks/v1/notification/",
    {["Content-Type"] = "application/json", ["X-Notification-Key"] = key}, body)
end
