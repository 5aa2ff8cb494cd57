"""The Lua scripts that make checkout atomic. Every key a script touches is passed in KEYS and shares
the `{checkout}` hash tag, so each script runs on one node of a Redis Cluster unchanged. Times come
from Redis's own clock (`TIME`), so gateways with skewed clocks agree on when a hold expires."""

# A reservation is a field of one hash: id -> {"lines": [[sku, qty], ...], "exp": ms, "order": id?}.
# Unconfirmed reservations also sit in a sorted set scored by expiry; confirming removes them from it.

_NOW = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

_GIVE_BACK = _NOW + """
local function give_back(id)
  local doc = redis.call('HGET', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  if not doc then return 0 end
  local r = cjson.decode(doc)
  if r.order then return 0 end
  for i = 1, #r.lines do redis.call('HINCRBY', KEYS[1], r.lines[i][1], r.lines[i][2]) end
  redis.call('HDEL', KEYS[2], id)
  return 1
end
"""

# KEYS: atp, reservations, expiry. ARGV: id, ttl_ms, reclaim_limit, n, sku1, qty1, ...
# All lines or none: checks every line first, then takes them all. Reclaims expired reservations first,
# so stock abandoned by a crashed checkout is back before anyone is told "sold out".
RESERVE = _GIVE_BACK + """
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(expired) do give_back(id) end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {'exists'} end
local n = tonumber(ARGV[4])
local short, missing, lines = {'short'}, {'missing'}, {}
for i = 0, n - 1 do
  local sku, qty = ARGV[5 + 2 * i], tonumber(ARGV[6 + 2 * i])
  local have = redis.call('HGET', KEYS[1], sku)
  if not have then
    table.insert(missing, sku)
  elseif tonumber(have) < qty then
    table.insert(short, sku)
    table.insert(short, have)
  end
  table.insert(lines, {sku, qty})
end
if #missing > 1 then return missing end
if #short > 1 then return short end
for i = 1, #lines do redis.call('HINCRBY', KEYS[1], lines[i][1], -lines[i][2]) end
local expires = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode({lines = lines, exp = expires}))
redis.call('ZADD', KEYS[3], expires, ARGV[1])
return {'ok'}
"""

# KEYS: atp, reservations, expiry. ARGV: id. Returns 1 if stock went back, 0 if it was not (or no
# longer) there, or is confirmed: whoever comes second (a retry, the expiry sweep) gives nothing back.
RELEASE = _GIVE_BACK + "return give_back(ARGV[1])"

# KEYS: atp, reservations, expiry. ARGV: n, sku1, ... Each SKU's counter (false if never seeded), after
# giving back holds that have expired, as RESERVE would see it.
AVAILABLE = _GIVE_BACK + """
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now_ms(), 'LIMIT', 0, 100)) do give_back(id) end
return redis.call('HMGET', KEYS[1], unpack(ARGV, 2))
"""

# KEYS: atp, reservations, expiry. ARGV: limit. Returns how many expired reservations went back.
RECLAIM = _GIVE_BACK + """
local count = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))) do
  count = count + give_back(id)
end
return count
"""


# KEYS: reservations, expiry, commits. ARGV: id. The ERP has the sales order: its deduction is now the
# ERP's, and the hold is done. Each SKU's commit counter moves, so a reconciliation that read the ERP's
# numbers before this knows not to trust them for that SKU. Returns 1 the first time, 0 after.
COMMIT = """
local doc = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if not doc then return 0 end
local r = cjson.decode(doc)
for i = 1, #r.lines do redis.call('HINCRBY', KEYS[3], r.lines[i][1], r.lines[i][2]) end
return redis.call('HDEL', KEYS[1], ARGV[1])
"""

# Units held per SKU by outstanding reservations (KEYS[2]: not yet in the vendor's books).
_HELD = """
local held = {}
for _, doc in ipairs(redis.call('HVALS', KEYS[2])) do
  local r = cjson.decode(doc)
  for i = 1, #r.lines do held[r.lines[i][1]] = (held[r.lines[i][1]] or 0) + r.lines[i][2] end
end
"""

# KEYS: atp, reservations. ARGV: n, sku1, erp_available1, ... An event from the ERP (a sale in a shop):
# each seeded counter goes down to the ERP's number less Bezel's outstanding holds, never up.
# Returns [sku, before, after, ...] for the counters lowered.
LOWER = _HELD + """
local out = {}
for i = 0, tonumber(ARGV[1]) - 1 do
  local sku, available = ARGV[2 + 2 * i], tonumber(ARGV[3 + 2 * i])
  local before = tonumber(redis.call('HGET', KEYS[1], sku))
  local expected = math.max(0, available - (held[sku] or 0))
  if before and expected < before then
    redis.call('HSET', KEYS[1], sku, expected)
    table.insert(out, sku)
    table.insert(out, before)
    table.insert(out, expected)
  end
end
return out
"""

# KEYS: atp, reservations, commits. ARGV: n, sku1, vendor_available1, commits_seen1, ...
# Sets each SKU's available-to-promise to what the vendor says minus what Bezel holds in outstanding
# reservations (not yet in the vendor's books). A SKU with a commit since `commits_seen` (read before
# the vendor was asked) is left alone this round: the vendor's number may or may not include it.
# Returns [sku, before or -1 if unseeded, after, skipped (0/1), ...].
RECONCILE = _HELD + """
local out = {}
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local sku, available, seen = ARGV[2 + 3 * i], tonumber(ARGV[3 + 3 * i]), tonumber(ARGV[4 + 3 * i])
  local before = redis.call('HGET', KEYS[1], sku)
  local commits = tonumber(redis.call('HGET', KEYS[3], sku) or '0')
  table.insert(out, sku)
  table.insert(out, before or -1)
  if commits ~= seen and before then
    table.insert(out, before)
    table.insert(out, 1)
  else
    local expected = available - (held[sku] or 0)
    if expected < 0 then expected = 0 end
    if before ~= tostring(expected) then redis.call('HSET', KEYS[1], sku, expected) end
    table.insert(out, expected)
    table.insert(out, 0)
  end
end
return out
"""

# KEYS: idempotency. ARGV: in-flight record, ttl ms. Claims the key for a new request, or returns
# what is already there (in flight, or the stored result) so the caller can replay or refuse.
BEGIN = """
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""

# KEYS: idempotency. ARGV: attempt id. Frees the key only if it is still this attempt's in-flight claim
# (never a stored result, never a newer request's claim).
ABANDON = """
local existing = redis.call('GET', KEYS[1])
if not existing then return 0 end
local doc = cjson.decode(existing)
if doc.state == 'in_flight' and doc.attempt == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: the client's counter. ARGV: limit, ttl ms. One more checkout in flight for this client, if it has
# fewer than `limit`: returns 1 (taken) or 0. The counter expires with the longest checkout, so a crashed
# gateway's checkouts stop counting by themselves.
ENTER = """
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return 0
end
return 1
"""

# KEYS: the client's counter. One checkout of this client ended.
LEAVE = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n <= 1 then return redis.call('DEL', KEYS[1]) end
return redis.call('DECR', KEYS[1])
"""

# KEYS: dead letters, stream, order, sync, owed. ARGV: system, order id, stream max length, PENDING state json,
#       traceparent, dead-letter id1, id2, ...
# `bezel orders redrive`: one order's dead-lettered sync to one system goes back on the stream, in one step:
# the named dead letters still there (and still this order's, for this system) are deleted, the system's
# sync state becomes the given PENDING one, and one entry naming the system ('system' field: the other
# groups acknowledge it without calling anything) is added. Whoever comes second (a rerun, an operator
# racing another) finds no dead letter left and adds nothing. Returns {'redriven', entry id}; {'none'}: no
# named dead letter left; {'no_order'}: the order (or its sync states) is gone, the dead letters stay;
# {'synced'}: the system has the order already, the dead letters are deleted and nothing is queued.
# A redriven order is owed again: it goes back in the owed index (its older score kept, if it is there).
REDRIVE = """
local system, order = ARGV[1], ARGV[2]
local alive = {}
for i = 6, #ARGV do
  local found = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  if #found == 1 then
    local fields, group, id = found[1][2], nil, nil
    for j = 1, #fields, 2 do
      if fields[j] == 'group' then group = fields[j + 1] elseif fields[j] == 'order_id' then id = fields[j + 1] end
    end
    if group == system and id == order then table.insert(alive, ARGV[i]) end
  end
end
if #alive == 0 then return {'none'} end
if redis.call('EXISTS', KEYS[3]) == 0 or redis.call('EXISTS', KEYS[4]) == 0 then return {'no_order'} end
local current = redis.call('HGET', KEYS[4], system)
if current and cjson.decode(current).status == 'SYNCED' then
  redis.call('XDEL', KEYS[1], unpack(alive))
  return {'synced'}
end
redis.call('HSET', KEYS[4], system, ARGV[4])
local entry = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'order_id', order, 'system', system,
                         'redrive_of', alive[1], 'traceparent', ARGV[5])
redis.call('ZADD', KEYS[5], 'NX', tonumber(string.match(entry, '^%d+')), order)
redis.call('XDEL', KEYS[1], unpack(alive))
return {'redriven', entry}
"""

# A sync state is settled when the worker is done with it: SYNCED, or FAILED (dead-lettered, waiting for
# an operator's redrive, which makes it owed again).
_SETTLED = """
local function settled(doc)
  local status = cjson.decode(doc).status
  return status == 'SYNCED' or status == 'FAILED'
end
"""

# KEYS: sync, owed. ARGV: system, state json, order id.
# One system's sync state; when it settles the order's last open one, the order leaves the owed index.
# Returns 1 if it left, 0 if some system is still owed it.
SET_SYNC = _SETTLED + """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if not settled(ARGV[2]) then return 0 end
for _, doc in ipairs(redis.call('HVALS', KEYS[1])) do
  if not settled(doc) then return 0 end
end
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
"""

# KEYS: stream, owed, then order1, sync1, order2, sync2, ... ARGV: system, from (an XRANGE start: the caller
#       has read the stream before it), traceparent, order id1, id2, ...
# The stream (or the system's consumer group) was lost: each named order whose sync to `system` is still
# PENDING and that has no entry for the system in the stream gets one again, naming the system (the other
# groups acknowledge it without calling anything). Entries from `from` on are read here, in the same atomic
# step as the writes, so an entry added meanwhile (a confirm, a redrive, another worker's requeue) is seen:
# however many workers run this at once, an order is queued once. Orders whose records are gone, or whose
# every system is settled, leave the owed index. Returns {orders dropped from the index, requeued id, ...}.
REQUEUE = _SETTLED + """
local system = ARGV[1]
local queued = {}
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], ARGV[2], '+')) do
  local fields, order, target = entry[2], nil, nil
  for j = 1, #fields, 2 do
    if fields[j] == 'order_id' then order = fields[j + 1] elseif fields[j] == 'system' then target = fields[j + 1] end
  end
  if order and (not target or target == system) then queued[order] = true end
end
local out = {0}
for i = 4, #ARGV do
  local order, slot = ARGV[i], 2 * (i - 3)
  local states = redis.call('HGETALL', KEYS[slot + 2])
  local open, owed = false, false
  for j = 1, #states, 2 do
    if not settled(states[j + 1]) then
      open = true
      if states[j] == system then owed = true end
    end
  end
  if not open or redis.call('EXISTS', KEYS[slot + 1]) == 0 then
    redis.call('ZREM', KEYS[2], order)
    out[1] = out[1] + 1
  elseif owed and not queued[order] then
    redis.call('XADD', KEYS[1], '*', 'order_id', order, 'system', system, 'requeued', '1', 'traceparent', ARGV[3])
    queued[order] = true
    table.insert(out, order)
  end
end
return out
"""
