//! The Lua scripts. Every state change that touches more than one key runs
//! as one script, so a crash or a dropped connection never leaves a job half
//! moved (say, acked in the stream but still leased, or out of the delayed
//! set but not yet in the stream).
//!
//! Layout per kind (`P` = `rocket:q:{app}:`): `P{kind}:stream` (ready and
//! in-flight entries, one consumer group), `P{kind}:delayed` (ZSET, score =
//! due ms, member = the entry's field list as a JSON array of strings),
//! `P{kind}:leases` (ZSET, member = entry id, score = lease deadline ms),
//! `P{kind}:wake` (a one-entry stream that idle consumers block on besides
//! the job stream), `P{kind}:dead:index`; per app: `Pattempts` (job id ->
//! deliveries), `Pdead` (job id -> DeadJob JSON), `Pdead:index`, `Pkinds`.
//!
//! Delayed members hold strings only (the payload is a JSON *string* inside
//! the array), so cjson never re-encodes a payload: `[]` stays `[]`, large
//! numbers keep their digits.

/// Moves up to 500 due delayed jobs of a kind into its stream.
const PROMOTE: &str = r#"
local function promote(delayed, stream, now)
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 500)
  for _, m in ipairs(due) do
    redis.call('XADD', stream, '*', unpack(cjson.decode(m)))
  end
  if #due > 0 then redis.call('ZREM', delayed, unpack(due)) end
  return #due
end
"#;

/// Stream fields per job (see `codec::fields`).
pub const FIELDS: usize = 14;
/// Keys and arguments per job of [`ENQUEUE`].
pub const ENQUEUE_KEYS: usize = 5;
pub const ENQUEUE_ARGS: usize = 4 + FIELDS;

/// Many jobs in one call (one script run instead of one per job).
/// KEYS per job: stream, delayed, dedupe (or a placeholder), kinds, wake.
/// ARGV: now, dedupe ttl ms, then per job: run_at, job id, kind,
/// has dedupe '1'/'0', the 14 fields.
/// Returns per job 1 when enqueued, or the id of the live job holding its
/// dedupe key.
pub const ENQUEUE: &str = r#"
local now = tonumber(ARGV[1])
local out = {}
for j = 0, (#ARGV - 2) / 18 - 1 do
  local a, k = 2 + j * 18, j * 5
  local res = 1
  if ARGV[a + 4] == '1' then
    if not redis.call('SET', KEYS[k + 3], ARGV[a + 2], 'NX', 'PX', ARGV[2]) then
      res = redis.call('GET', KEYS[k + 3]) or ''
    end
  end
  if res == 1 then
    redis.call('SADD', KEYS[k + 4], ARGV[a + 3])
    local fields = {}
    for i = a + 5, a + 18 do fields[#fields + 1] = ARGV[i] end
    if tonumber(ARGV[a + 1]) > now then
      redis.call('ZADD', KEYS[k + 2], ARGV[a + 1], cjson.encode(fields))
      -- A consumer idling until the previous earliest due time must look again.
      redis.call('XADD', KEYS[k + 5], 'MAXLEN', '1', '*', 't', '1')
    else
      redis.call('XADD', KEYS[k + 1], '*', unpack(fields))
    end
  end
  out[#out + 1] = res
end
return out
"#;

/// KEYS: stream, delayed, leases, attempts.
/// ARGV: group, consumer, max, now, lease deadline.
/// Returns {{entry id, attempt, {field, value, ...}}, ...}: expired leases
/// first (claimed from whichever consumer held them), then new entries. The
/// attempt counter is bumped here, in the same script as the hand-out, so a
/// consumer that dies right after still used up an attempt.
pub fn reserve() -> String {
    format!(
        "{PROMOTE}{}",
        r#"
local now = tonumber(ARGV[4])
promote(KEYS[2], KEYS[1], now)
local max = tonumber(ARGV[3])
local got = {}
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, max)
if #expired > 0 then
  redis.call('ZREM', KEYS[3], unpack(expired))
  local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(expired))
  for _, e in ipairs(claimed) do
    if e and e[2] then got[#got + 1] = e end
  end
end
if #got < max then
  local args = {'GROUP', ARGV[1], ARGV[2], 'COUNT', max - #got, 'STREAMS', KEYS[1], '>'}
  local r = redis.pcall('XREADGROUP', unpack(args))
  if type(r) == 'table' and r.err then
    if not string.find(r.err, 'NOGROUP') then return redis.error_reply(r.err) end
    redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
    r = redis.call('XREADGROUP', unpack(args))
  end
  if r then
    for _, e in ipairs(r[1][2]) do got[#got + 1] = e end
  end
end
local out = {}
for _, e in ipairs(got) do
  local f = e[2]
  local id = ''
  for i = 1, #f, 2 do if f[i] == 'id' then id = f[i + 1] end end
  local n = redis.call('HINCRBY', KEYS[4], id, 1)
  redis.call('ZADD', KEYS[3], ARGV[5], e[1])
  out[#out + 1] = {e[1], n, f}
end
return out
"#
    )
}

/// KEYS: stream, delayed, leases, wake.
/// ARGV: group, now.
/// Promotes due jobs and tells an idle consumer how long it may sleep and
/// from where to block: {promoted, next delayed due or -1, next lease
/// deadline or -1, the group's last delivered id, the wake stream's last id}.
/// Blocking on the stream *after the group's last delivered id* returns at
/// once if undelivered entries exist, so an enqueue that lands between an
/// empty reserve and this call is not slept through.
pub fn peek() -> String {
    format!(
        "{PROMOTE}{}",
        r#"
local moved = promote(KEYS[2], KEYS[1], tonumber(ARGV[2]))
local last = '0-0'
local g = redis.pcall('XINFO', 'GROUPS', KEYS[1])
if type(g) == 'table' and not g.err then
  for _, grp in ipairs(g) do
    local name, ld = nil, nil
    for i = 1, #grp, 2 do
      if grp[i] == 'name' then name = grp[i + 1] end
      if grp[i] == 'last-delivered-id' then ld = grp[i + 1] end
    end
    if name == ARGV[1] and ld then last = ld end
  end
end
local d = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local l = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
local w = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)
local wid = '0-0'
if #w > 0 then wid = w[1][1] end
return {moved, d[2] or '-1', l[2] or '-1', last, wid}
"#
    )
}

/// Whether the caller still holds the lease it was handed (a receipt is
/// `entry id @ deadline`): a consumer whose lease lapsed and whose job was
/// handed to another must not settle the other's delivery.
const HELD: &str = r#"
local function held(leases, entry, deadline)
  local s = redis.call('ZSCORE', leases, entry)
  return s and tonumber(s) == tonumber(deadline)
end
local function settle(stream, group, leases, entry)
  redis.call('XACK', stream, group, entry)
  redis.call('XDEL', stream, entry)
  redis.call('ZREM', leases, entry)
end
local function free_dedupe(key, id)
  if key ~= '' and redis.call('GET', key) == id then redis.call('DEL', key) end
end
"#;

/// Acks many deliveries in one call (the driver batches concurrent acks).
/// KEYS per delivery: stream, leases, attempts, dedupe (or placeholder).
/// ARGV per delivery: group, entry, deadline, job id, has dedupe.
/// Returns per delivery 1 (acked) or 0 (the lease was no longer its own).
pub fn ack() -> String {
    format!(
        "{HELD}{}",
        r#"
local out = {}
for j = 0, #KEYS / 4 - 1 do
  local k, a = j * 4, j * 5
  if held(KEYS[k + 2], ARGV[a + 2], ARGV[a + 3]) then
    settle(KEYS[k + 1], ARGV[a + 1], KEYS[k + 2], ARGV[a + 2])
    redis.call('HDEL', KEYS[k + 3], ARGV[a + 4])
    if ARGV[a + 5] == '1' then free_dedupe(KEYS[k + 4], ARGV[a + 4]) end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
"#
    )
}

/// KEYS: stream, leases, delayed, wake.
/// ARGV: group, entry, deadline, retry at, now.
/// The attempts counter is kept, so the next delivery counts on from it.
pub fn retry() -> String {
    format!(
        "{HELD}{}",
        r#"
if not held(KEYS[2], ARGV[2], ARGV[3]) then return 0 end
local r = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
settle(KEYS[1], ARGV[1], KEYS[2], ARGV[2])
if #r == 0 then return 0 end
local f = r[1][2]
for i = 1, #f, 2 do if f[i] == 'due_at' then f[i + 1] = ARGV[4] end end
if tonumber(ARGV[4]) <= tonumber(ARGV[5]) then
  redis.call('XADD', KEYS[1], '*', unpack(f))
else
  redis.call('ZADD', KEYS[3], ARGV[4], cjson.encode(f))
  redis.call('XADD', KEYS[4], 'MAXLEN', '1', '*', 't', '1')
end
return 1
"#
    )
}

/// KEYS: stream, leases, attempts, dedupe (or placeholder), dead,
/// dead index, kind dead index, kinds.
/// ARGV: group, entry, deadline, job id, has dedupe, died at, DeadJob JSON, kind.
pub fn bury() -> String {
    format!(
        "{HELD}{}",
        r#"
if not held(KEYS[2], ARGV[2], ARGV[3]) then return 0 end
settle(KEYS[1], ARGV[1], KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[4])
if ARGV[5] == '1' then free_dedupe(KEYS[4], ARGV[4]) end
redis.call('HSET', KEYS[5], ARGV[4], ARGV[7])
redis.call('ZADD', KEYS[6], ARGV[6], ARGV[4])
redis.call('ZADD', KEYS[7], ARGV[6], ARGV[4])
redis.call('SADD', KEYS[8], ARGV[8])
return 1
"#
    )
}

/// KEYS: stream, attempts, dead, dead index, kind dead index.
/// ARGV: job id, fields...
/// A dead job back to ready as a fresh job: attempts start over, no dedupe.
pub const REQUEUE: &str = r#"
if redis.call('HDEL', KEYS[3], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[1], '*', unpack(fields))
return 1
"#;

/// KEYS: dead, dead index, kind dead index. ARGV: job id.
pub const DELETE_DEAD: &str = r#"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"#;

/// KEYS: stream, delayed, kind dead index. ARGV: group.
/// {ready, in flight, delayed, dead}. Acked entries are deleted from the
/// stream, so its length is pending (in flight) plus not yet delivered.
pub const STATS: &str = r#"
local len = redis.call('XLEN', KEYS[1])
local pending = 0
local p = redis.pcall('XPENDING', KEYS[1], ARGV[1])
if type(p) == 'table' and not p.err then pending = tonumber(p[1]) or 0 end
return {len - pending, pending, redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3])}
"#;
