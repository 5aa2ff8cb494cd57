"""The Lua scripts that make checkout atomic. Every key a script touches is passed in KEYS and shares
the `{checkout}` hash tag, so each script runs on one node of a Redis Cluster unchanged."""

# A reservation is a field of one hash: id -> {"lines": [[sku, qty], ...], "exp": ms, "order": id?}.
# Unconfirmed reservations also sit in a sorted set scored by expiry; confirming removes them from it.

_GIVE_BACK = """
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

# KEYS: atp, reservations, expiry. ARGV: now_ms, id, expires_ms, reclaim_limit, n, sku1, qty1, ...
# All lines or none: checks every line first, then takes them all. Reclaims expired reservations first,
# so stock abandoned by a crashed checkout is back before anyone is told "sold out".
RESERVE = _GIVE_BACK + """
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
for _, id in ipairs(expired) do give_back(id) end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return {'exists'} end
local n = tonumber(ARGV[5])
local short, missing, lines = {'short'}, {'missing'}, {}
for i = 0, n - 1 do
  local sku, qty = ARGV[6 + 2 * i], tonumber(ARGV[7 + 2 * i])
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
redis.call('HSET', KEYS[2], ARGV[2], cjson.encode({lines = lines, exp = tonumber(ARGV[3])}))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return {'ok'}
"""

# KEYS: atp, reservations, expiry. ARGV: id. Returns 1 if stock went back, 0 if it was not (or no
# longer) there: whoever comes second (a retry, the expiry sweep) gives nothing back twice.
RELEASE = _GIVE_BACK + "return give_back(ARGV[1])"

# KEYS: atp, reservations, expiry. ARGV: now_ms, limit. Returns how many expired reservations went back.
RECLAIM = _GIVE_BACK + """
local count = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))) do
  count = count + give_back(id)
end
return count
"""

# KEYS: reservations, expiry, order, sync, idempotency, stream.
# ARGV: reservation id, order id, order json, retention ms, idempotency json, idempotency ttl ms,
#       traceparent, created ms, stream max length, n systems, system1, state1, ...
# The order, its sync states, the idempotency result and the stream entry are written together, and
# the reservation is pinned (it no longer expires): the customer is told "confirmed" only after this.
CONFIRM = """
local doc = redis.call('HGET', KEYS[1], ARGV[1])
if not doc then return 0 end
local r = cjson.decode(doc)
r.order = ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(r))
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
local n = tonumber(ARGV[10])
for i = 0, n - 1 do redis.call('HSET', KEYS[4], ARGV[11 + 2 * i], ARGV[12 + 2 * i]) end
redis.call('PEXPIRE', KEYS[4], ARGV[4])
redis.call('SET', KEYS[5], ARGV[5], 'PX', ARGV[6])
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[9], '*', 'order_id', ARGV[2], 'traceparent', ARGV[7],
           'created_ms', ARGV[8])
return 1
"""

# KEYS: reservations, expiry. ARGV: id. The ERP has the sales order: its deduction is now the ERP's,
# and the reservation is done. Returns 1 the first time, 0 after.
COMMIT = """
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
"""

# KEYS: atp, reservations. ARGV: n, sku1, vendor_available1, ...
# Sets each SKU's available-to-promise to what the vendor says minus what Bezel holds in outstanding
# reservations (not yet in the vendor's books). Returns [sku, before or -1 if unseeded, after, ...].
RECONCILE = """
local held = {}
for _, doc in ipairs(redis.call('HVALS', KEYS[2])) do
  local r = cjson.decode(doc)
  for i = 1, #r.lines do held[r.lines[i][1]] = (held[r.lines[i][1]] or 0) + r.lines[i][2] end
end
local out = {}
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local sku, available = ARGV[2 + 2 * i], tonumber(ARGV[3 + 2 * i])
  local expected = available - (held[sku] or 0)
  if expected < 0 then expected = 0 end
  local before = redis.call('HGET', KEYS[1], sku)
  if before ~= tostring(expected) then redis.call('HSET', KEYS[1], sku, expected) end
  table.insert(out, sku)
  table.insert(out, before or -1)
  table.insert(out, expected)
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
