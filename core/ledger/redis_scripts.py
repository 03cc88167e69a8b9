"""The Lua scripts of the Redis ledger: each write is one script, so every check-and-set is
atomic on the server (kept apart from the Python so each side stays readable)."""

from __future__ import annotations

REPLY_SECONDS = 120
"""How long a write's reply is kept for a retry of the same write (redis-py gives up well
within this: three retries, backoff capped at 10 s)."""

# Shared by every write script. ARGV[1] prefix, ARGV[2] now (ISO), ARGV[3] now (epoch ms),
# ARGV[4] reply token; the script's own arguments start at ARGV[5]. An optional value is
# "" for NULL and "=" + text otherwise, because every Lua argument is a string.
PRELUDE = """
local P = ARGV[1]
local NOW = ARGV[2]
local NOW_MS = ARGV[3]
local function jkey(id) return P .. 'job:' .. id end
local function opt(value) if value == '' then return nil end return string.sub(value, 2) end
local function field(value) if value == false then return nil end return value end
local function put(key, name, value)
  if value == nil then redis.call('HDEL', key, name) else redis.call('HSET', key, name, value) end
end
local function keep(key, name, value)
  if value ~= nil then redis.call('HSET', key, name, value) end
end
local function shortest(x)
  for digits = 15, 17 do
    local text = string.format('%.' .. digits .. 'g', x)
    if tonumber(text) == x then return text end
  end
  return string.format('%.17g', x)
end
local function add_cost(key, cost)
  if cost == nil then return end
  local old = redis.call('HGET', key, 'cost_usd')
  if old then cost = shortest(tonumber(old) + tonumber(cost)) end
  redis.call('HSET', key, 'cost_usd', cost)
end
local function move(id, from, to)
  if from then redis.call('ZREM', P .. 'state:' .. from, id) end
  redis.call('ZADD', P .. 'state:' .. to, id, id)
end
local function event(id, state, reason, cost)
  local number = redis.call('INCR', P .. 'event:next')
  local line = {id = number, at = NOW, state = state, reason = reason, cost_usd = cost}
  redis.call('RPUSH', P .. 'events:' .. id, cjson.encode(line))
  if cost then
    local workflow = redis.call('HGET', jkey(id), 'workflow')
    local entry = {event = number, job = tonumber(id), workflow = workflow, cost_usd = cost}
    redis.call('ZADD', P .. 'costs', NOW_MS, cjson.encode(entry))
  end
end
local RUN_FIELDS = {'owner_pid', 'owner_host', 'lease_until', 'claude_pid', 'claude_started', 'waiting_for'}
local function finish(id, state, exit_code, err, cost, tin, tout, turns, session, answer, reason, structured)
  local key = jkey(id)
  local old = redis.call('HGET', key, 'state')
  if not old then return false end
  redis.call('HSET', key, 'state', state, 'finished_at', NOW, 'cancel_requested', '0')
  put(key, 'exit_code', exit_code)
  put(key, 'error', err)
  add_cost(key, cost)
  keep(key, 'input_tokens', tin)
  keep(key, 'output_tokens', tout)
  keep(key, 'turns', turns)
  keep(key, 'session_id', session)
  put(key, 'answer', answer)
  put(key, 'structured_output', structured)
  redis.call('HDEL', key, unpack(RUN_FIELDS))
  move(id, old, state)
  redis.call('ZADD', P .. 'finished', NOW_MS, id)
  redis.call('DEL', P .. 'inputs:' .. id)
  redis.call('SREM', P .. 'inputs', id)
  event(id, state, reason, cost)
  return true
end
local function requeue(id, run_after, refund, cost, err, session, reason)
  local key = jkey(id)
  local old = redis.call('HGET', key, 'state')
  if not old then return false end
  redis.call('HSET', key, 'state', 'queued', 'cancel_requested', '0')
  put(key, 'run_after', run_after)
  redis.call('HDEL', key, unpack(RUN_FIELDS))
  if refund == '1' then redis.call('HINCRBY', key, 'attempts', -1) end
  add_cost(key, cost)
  keep(key, 'error', err)
  keep(key, 'session_id', session)
  move(id, old, 'queued')
  event(id, 'queued', reason, cost)
  return true
end
local function run()
"""

EPILOGUE = f"""
end
local token = P .. 'reply:' .. ARGV[4]
local seen = redis.call('GET', token)
if seen then return cjson.decode(seen) end
local reply = run()
redis.call('SET', token, cjson.encode(reply), 'EX', {REPLY_SECONDS})
return reply
"""

CREATE = """
local id = redis.call('INCR', P .. 'job:next')
local key = jkey(id)
local state = ARGV[5]
redis.call('HSET', key, 'id', id, 'state', state, 'attempts', '0', 'created_at', NOW,
  'cancel_requested', '0')
for i = 7, #ARGV, 2 do put(key, ARGV[i], opt(ARGV[i + 1])) end
redis.call('ZADD', P .. 'jobs', id, id)
move(id, nil, state)
event(id, state, ARGV[6])
return redis.call('HGETALL', key)
"""

CLAIM = """
local id = ARGV[5]
local key = jkey(id)
if redis.call('HGET', key, 'state') ~= 'queued' then return false end
local attempts = redis.call('HINCRBY', key, 'attempts', 1)
redis.call('HSET', key, 'state', 'running', 'started_at', NOW, 'owner_pid', ARGV[6],
  'owner_host', ARGV[7], 'lease_until', ARGV[8], 'cancel_requested', '0')
redis.call('HDEL', key, 'finished_at', 'run_after', 'claude_pid', 'claude_started', 'waiting_for')
redis.call('ZREM', P .. 'finished', id)
move(id, 'queued', 'running')
local total = redis.call('HGET', key, 'max_attempts')
event(id, 'running', 'attempt ' .. attempts .. ' of ' .. total .. ' started')
return redis.call('HGETALL', key)
"""

RECORD_PROCESS = """
local key = jkey(ARGV[5])
if redis.call('EXISTS', key) == 0 then return false end
redis.call('HSET', key, 'claude_pid', ARGV[6], 'claude_started', ARGV[7], 'transcript_path', ARGV[8])
event(ARGV[5], 'running', 'claude started (pid ' .. ARGV[6] .. ')')
return true
"""

FINISH = """
if not finish(ARGV[5], ARGV[6], opt(ARGV[7]), opt(ARGV[8]), opt(ARGV[9]), opt(ARGV[10]),
  opt(ARGV[11]), opt(ARGV[12]), opt(ARGV[13]), opt(ARGV[14]), ARGV[15], opt(ARGV[16] or '')) then
  return false
end
return redis.call('HGETALL', jkey(ARGV[5]))
"""

REQUEUE = """
if not requeue(ARGV[5], opt(ARGV[6]), ARGV[7], opt(ARGV[8]), opt(ARGV[9]), opt(ARGV[10]), ARGV[11]) then
  return false
end
return redis.call('HGETALL', jkey(ARGV[5]))
"""

# ARGV[5] id, [6] required state(s) separated by spaces, [7] reason, then per script.
WHEN_IN_STATE = """
local id = ARGV[5]
local key = jkey(id)
local state = redis.call('HGET', key, 'state')
if not state or not string.find(' ' .. ARGV[6] .. ' ', ' ' .. state .. ' ', 1, true) then
  return false
end
"""

DEFER = (
    WHEN_IN_STATE
    + """
redis.call('HSET', key, 'run_after', ARGV[8])
event(id, 'queued', ARGV[7])
return true
"""
)

APPROVE = (
    WHEN_IN_STATE
    + """
redis.call('HSET', key, 'state', 'queued')
move(id, state, 'queued')
event(id, 'queued', ARGV[7])
return true
"""
)

CANCEL_QUEUED = (
    WHEN_IN_STATE
    + """
redis.call('HSET', key, 'state', 'cancelled', 'finished_at', NOW)
redis.call('HDEL', key, 'run_after')
move(id, state, 'cancelled')
redis.call('ZADD', P .. 'finished', NOW_MS, id)
event(id, 'cancelled', ARGV[7])
return true
"""
)

REQUEST_CANCEL = (
    WHEN_IN_STATE
    + """
redis.call('HSET', key, 'cancel_requested', '1')
event(id, 'running', 'cancel requested: ' .. ARGV[7])
return true
"""
)

REWRITE_WAITING = (
    WHEN_IN_STATE
    + """
redis.call('HSET', key, 'prompt', ARGV[8])
put(key, 'trigger', opt(ARGV[9]))
event(id, state, ARGV[7])
return redis.call('HGETALL', key)
"""
)

# ARGV[5] id, [6] required state, [7] reason ("" for none), [8] question (opt).
SET_WAITING = (
    WHEN_IN_STATE
    + """
put(key, 'waiting_for', opt(ARGV[8]))
if ARGV[7] ~= '' then event(id, 'running', ARGV[7]) end
return true
"""
)

# ARGV[5] id, [6] required state, [7] reason, [8] the entry (JSON).
POST_INPUT = (
    WHEN_IN_STATE
    + """
redis.call('RPUSH', P .. 'inputs:' .. id, ARGV[8])
redis.call('SADD', P .. 'inputs', id)
event(id, 'running', ARGV[7])
return true
"""
)

TAKE_INPUTS = """
local id = ARGV[5]
local taken = redis.call('LRANGE', P .. 'inputs:' .. id, 0, -1)
redis.call('DEL', P .. 'inputs:' .. id)
redis.call('SREM', P .. 'inputs', id)
return taken
"""

# ARGV[5] id, [6] the tool.
ALLOW_ALWAYS = """
local key = jkey(ARGV[5])
if redis.call('EXISTS', key) == 0 then return false end
local tools = {}
local known = redis.call('HGET', key, 'always_allowed')
if known then tools = cjson.decode(known) end
for _, tool in ipairs(tools) do
  if tool == ARGV[6] then return true end
end
table.insert(tools, ARGV[6])
redis.call('HSET', key, 'always_allowed', cjson.encode(tools))
return true
"""

# ARGV[5] id, [6] reason ("" for none), then name, value (opt) pairs.
SET_FIELDS = """
local key = jkey(ARGV[5])
local state = redis.call('HGET', key, 'state')
if not state then return false end
for i = 7, #ARGV, 2 do put(key, ARGV[i], opt(ARGV[i + 1])) end
if ARGV[6] ~= '' then event(ARGV[5], state, ARGV[6]) end
return redis.call('HGETALL', key)
"""

# ARGV[5] id, [6] tree before (opt; kept only when none is recorded), [7] tree after (opt),
# [8] reason ("" for none).
RECORD_TREES = """
local key = jkey(ARGV[5])
local state = redis.call('HGET', key, 'state')
if not state then return false end
local before = opt(ARGV[6])
if before and redis.call('HEXISTS', key, 'tree_before') == 0 then
  redis.call('HSET', key, 'tree_before', before)
end
keep(key, 'tree_after', opt(ARGV[7]))
if ARGV[8] ~= '' then event(ARGV[5], state, ARGV[8]) end
return true
"""

# ARGV[5] id, [6] review, [7] reason.
SET_REVIEW = """
local key = jkey(ARGV[5])
local seen = redis.call('HMGET', key, 'state', 'worktree', 'review')
if not seen[1] or not seen[2] or seen[3] == ARGV[6] then return false end
redis.call('HSET', key, 'review', ARGV[6])
event(ARGV[5], seen[1], ARGV[7])
return true
"""

NOTE = """
local state = redis.call('HGET', jkey(ARGV[5]), 'state')
if not state then return false end
event(ARGV[5], state, ARGV[6])
return true
"""

RENEW = """
local owned = {}
for i = 8, #ARGV do
  local key = jkey(ARGV[i])
  local seen = redis.call('HMGET', key, 'state', 'owner_pid', 'owner_host')
  if seen[1] == 'running' and seen[2] == ARGV[6] and seen[3] == ARGV[7] then
    redis.call('HSET', key, 'lease_until', ARGV[5])
    table.insert(owned, ARGV[i])
  end
end
return owned
"""

# ARGV[5] id, [6] attempts, [7] owner_pid (opt), [8] owner_host (opt), [9] cancelled
# error, [10] failed error, [11] requeue reason. Mirrors Ledger._recover.
RECOVER = """
local id = ARGV[5]
local seen = redis.call('HMGET', jkey(id), 'state', 'attempts', 'owner_pid', 'owner_host',
  'cancel_requested', 'max_attempts')
if seen[1] ~= 'running' or seen[2] ~= ARGV[6] or field(seen[3]) ~= opt(ARGV[7])
  or field(seen[4]) ~= opt(ARGV[8]) then
  return false
end
if seen[5] == '1' then
  finish(id, 'cancelled', nil, ARGV[9], nil, nil, nil, nil, nil, nil, ARGV[9])
  return 'cancelled'
end
if tonumber(seen[2]) >= tonumber(seen[6]) then
  finish(id, 'failed', nil, ARGV[10], nil, nil, nil, nil, nil, nil, ARGV[10])
  return 'failed'
end
requeue(id, nil, '0', nil, nil, nil, ARGV[11])
return 'queued'
"""

# Read-only: ARGV[1] prefix, ARGV[2] limit ("" for all), ARGV[3..] states (none: all jobs).
# One script, so the rows are one consistent snapshot like a single SELECT.
LIST = """
local P = ARGV[1]
local stop = -1
if ARGV[2] ~= '' then stop = tonumber(ARGV[2]) - 1 end
local ids = {}
if #ARGV < 3 then
  ids = redis.call('ZREVRANGE', P .. 'jobs', 0, stop)
else
  for i = 3, #ARGV do
    for _, id in ipairs(redis.call('ZREVRANGE', P .. 'state:' .. ARGV[i], 0, stop)) do
      table.insert(ids, id)
    end
  end
  table.sort(ids, function(a, b) return tonumber(a) > tonumber(b) end)
end
local rows = {}
for i, id in ipairs(ids) do
  if stop >= 0 and i > stop + 1 then break end
  table.insert(rows, redis.call('HGETALL', P .. 'job:' .. id))
end
return rows
"""

# ARGV[5] "1" for a dry run, [6..] job ids. Deletes each that is still finished and has no
# changes to review, with its events, inputs and cost entries; returns {ids, events, inputs}.
DELETE_FINISHED = """
local dry = ARGV[5] == '1'
local final = {succeeded = true, failed = true, cancelled = true}
local deleted, gone, events, inputs, newest = {}, {}, 0, 0, nil
for i = 6, #ARGV do
  local id = ARGV[i]
  local key = jkey(id)
  local seen = redis.call('HMGET', key, 'state', 'review')
  if seen[1] and final[seen[1]] and seen[2] ~= 'pending' then
    events = events + redis.call('LLEN', P .. 'events:' .. id)
    inputs = inputs + redis.call('LLEN', P .. 'inputs:' .. id)
    table.insert(deleted, id)
    gone[tonumber(id)] = true
    if not dry then
      local score = redis.call('ZSCORE', P .. 'finished', id)
      if score and (newest == nil or tonumber(score) > newest) then newest = tonumber(score) end
      redis.call('DEL', key, P .. 'events:' .. id, P .. 'inputs:' .. id)
      redis.call('ZREM', P .. 'jobs', id)
      redis.call('ZREM', P .. 'state:' .. seen[1], id)
      redis.call('ZREM', P .. 'finished', id)
      redis.call('SREM', P .. 'inputs', id)
    end
  end
end
if newest then
  for _, entry in ipairs(redis.call('ZRANGEBYSCORE', P .. 'costs', '-inf', newest)) do
    if gone[cjson.decode(entry).job] then redis.call('ZREM', P .. 'costs', entry) end
  end
end
return {deleted, events, inputs}
"""
