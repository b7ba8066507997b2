/* redis_scripts: the Lua scripts Redis runs for the shared limiter and
 * budget (redis.h explains what each keeps).
 *
 * Limiter arithmetic. Time is Redis's TIME in whole microseconds; T, the
 * emission interval in microseconds per unit, is a Lua number (a double).
 * Integers (TAT, counters) stay far below 2^53, so doubles hold them exactly.
 * A charge moves TAT by ceil(c * T) and a refund by floor(c * T), so
 * rounding never hands out a unit. A new bucket starts at its init fill; a
 * changed T (a share cut or recovery, a new limit) rescales the deficit,
 * keeping the level in units.
 *
 * Money arithmetic. Amounts are decimal strings of non-negative int64
 * picodollars; num() splits one into two exact parts (above and below
 * 10^9), add() and le() work on the parts, str() joins them: no amount ever
 * passes through a float. */
#include "redis_int.h"

/* A pool is one hash, a dimension one field ("d0".."d3") holding its
 * state packed as seven doubles (struct.pack, exact for these integers):
 * tat, T, share, recover_at, cool-down, granted, calibrated. One HMGET
 * reads them at the start and one HSET writes what changed at the end
 * (flush): three Redis calls a script (TIME, HMGET, HSET), and no text to
 * parse or format. The hash lives a day from its creation and from every
 * 64th request granted; a pool left alone that long starts again at its
 * init fill. Every script passes a dimension as four arguments in a row,
 * limit, period_us, cap, init_ppm, from ARGV[b]: dim(i, b) reads them. */
#define RL_COMMON                                                                              \
	"local P = ARGV[1]\n"                                                                  \
	"local K = P .. 'rl:' .. ARGV[2]\n"                                                    \
	"local t = redis.call('TIME')\n"                                                       \
	"local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"                              \
	"local R = redis.call('HMGET', K, 'd0', 'd1', 'd2', 'd3')\n"                           \
	"local W, refresh = {}, false\n"                                                       \
	"local function dim(i, b)\n"                                                           \
	"  local limit, period = tonumber(ARGV[b]), tonumber(ARGV[b + 1])\n"                   \
	"  local cap, init = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])\n"                   \
	"  local d = {i = i, cap = cap, period = period, limit = limit}\n"                     \
	"  local tat, T0, sh, rc, cd, g, cal\n"                                                \
	"  if R[i + 1] then\n"                                                                 \
	"    tat, T0, sh, rc, cd, g, cal = struct.unpack('<ddddddd', R[i + 1])\n"               \
	"  end\n"                                                                              \
	"  sh, rc = sh or 1000000, rc or 0\n"                                                  \
	"  if sh < 1000000 and rc <= now then\n"                                               \
	"    local steps = math.floor((now - rc) / 60000000) + 1\n"                            \
	"    sh = math.min(1000000, sh + steps * 10000)\n"                                     \
	"    rc = rc + steps * 60000000\n"                                                     \
	"  end\n"                                                                              \
	"  d.sh, d.rc = sh, rc\n"                                                              \
	"  d.T = period / (limit * sh / 1000000)\n"                                            \
	"  if not tat then\n"                                                                  \
	"    tat = now + math.ceil((cap - math.floor(cap * init / 1000000)) * d.T)\n"          \
	"  elseif T0 ~= d.T and tat > now then\n"                                              \
	"    tat = now + math.ceil((tat - now) / T0 * d.T)\n"                                  \
	"  end\n"                                                                              \
	"  d.tat, d.cd, d.g, d.cal = tat, cd or 0, g or 0, cal or 0\n"                         \
	"  return d\n"                                                                         \
	"end\n"                                                                                \
	"local function save(d)\n"                                                             \
	"  W[#W + 1] = 'd' .. d.i\n"                                                           \
	"  W[#W + 1] = struct.pack('<ddddddd', d.tat, d.T, d.sh, d.rc, d.cd, d.g, d.cal)\n"     \
	"  if not R[d.i + 1] or (d.i == 0 and d.g % 64 == 0) then refresh = true end\n"        \
	"end\n"                                                                                \
	"local function flush()\n"                                                             \
	"  if #W > 0 then redis.call('HSET', K, unpack(W)) end\n"                              \
	"  if refresh then redis.call('PEXPIRE', K, 86400000) end\n"                           \
	"end\n"                                                                                \
	"local function level(d) return d.cap - math.max(0, d.tat - now) / d.T end\n"          \
	"local function set_level(d, lv) d.tat = now + math.ceil((d.cap - lv) * d.T) end\n"

/* ARGV: prefix, pool, then per dimension (4): limit, period_us, cap,
 * init_ppm, cost. {1, g0..g3} granted, {0, wait_us}, {-2, dim} oversize. */
static const char acquire_src[] = RL_COMMON
	"local ds, wait = {}, 0\n"
	"for i = 0, 3 do\n"
	"  local b = 3 + i * 5\n"
	"  local limit = tonumber(ARGV[b])\n"
	"  if limit > 0 then\n"
	"    local cap, cost = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 4])\n"
	"    if cost > cap then return {-2, i} end\n"
	"    local d = dim(i, b)\n"
	"    d.cost = cost\n"
	"    local ready = d.tat - math.floor((cap - cost) * d.T)\n"
	"    if d.cd > ready then ready = d.cd end\n"
	"    if ready - now > wait then wait = ready - now end\n"
	"    ds[#ds + 1] = d\n"
	"  end\n"
	"end\n"
	"if wait > 0 then return {0, wait} end\n"
	"local out = {1, 0, 0, 0, 0}\n"
	"for _, d in ipairs(ds) do\n"
	"  d.tat = math.max(d.tat, now) + math.ceil(d.cost * d.T)\n"
	"  d.g = d.g + d.cost\n"
	"  save(d)\n"
	"  out[d.i + 2] = d.g\n"
	"end\n"
	"flush()\n"
	"return out\n";

/* ARGV: prefix, pool, since_us, then per dimension (4): limit, period_us,
 * cap, init_ppm, refund, has_header, remaining, mark, rounding. */
static const char settle_src[] = RL_COMMON
	"local since = tonumber(ARGV[3])\n"
	"for i = 0, 3 do\n"
	"  local b = 4 + i * 9\n"
	"  local limit = tonumber(ARGV[b])\n"
	"  if limit > 0 then\n"
	"    local d = dim(i, b)\n"
	"    local after = math.max(0, d.g - tonumber(ARGV[b + 7]))\n"
	"    local k = tonumber(ARGV[b + 4])\n"
	"    if k > 0 then\n"
	"      local nt = math.max(d.tat - math.floor(k * d.T), now)\n"
	"      if nt < d.tat then d.tat = nt end\n"
	"      d.g = d.g - k\n"
	"    elseif k < 0 then\n"
	"      d.tat = math.max(d.tat, now) + math.ceil(-k * d.T)\n"
	"      d.g = d.g - k\n"
	"    end\n"
	"    if ARGV[b + 5] == '1' then\n"
	"      local rem, rnd = tonumber(ARGV[b + 6]), tonumber(ARGV[b + 8])\n"
	"      if d.cal == 0 then\n"
	"        set_level(d, math.min(d.cap, rem - rnd - after))\n"
	"        d.cal = 1\n"
	"      else\n"
	"        local upper = rem + rnd + math.floor(since / d.T) - after\n"
	"        if upper < level(d) then set_level(d, upper) end\n"
	"      end\n"
	"    end\n"
	"    save(d)\n"
	"  end\n"
	"end\n"
	"flush()\n"
	"return 1\n";

/* ARGV: prefix, pool, retry_us, then per dimension (4): limit, period_us,
 * cap, init_ppm, hit, has_header, remaining. */
static const char on429_src[] = RL_COMMON
	"local retry = tonumber(ARGV[3])\n"
	"for i = 0, 3 do\n"
	"  local b = 4 + i * 7\n"
	"  local limit = tonumber(ARGV[b])\n"
	"  if limit > 0 and ARGV[b + 4] == '1' then\n"
	"    local d = dim(i, b)\n"
	"    local T0 = d.T\n"
	"    d.sh = math.max(500000, math.floor(d.sh * 0.9))\n"
	"    d.rc = now + 60000000\n"
	"    d.T = d.period / (limit * d.sh / 1000000)\n"
	"    if d.tat > now then d.tat = now + math.ceil((d.tat - now) / T0 * d.T) end\n"
	"    d.cd = math.max(d.cd, now + retry)\n"
	"    if ARGV[b + 5] == '1' then\n"
	"      local rem = tonumber(ARGV[b + 6])\n"
	"      if rem < level(d) then set_level(d, rem) end\n"
	"    elseif level(d) > d.cap / 2 then\n"
	"      set_level(d, math.floor(d.cap / 2))\n"
	"    end\n"
	"    save(d)\n"
	"  end\n"
	"end\n"
	"flush()\n"
	"return 1\n";

/* ARGV: prefix, pool, dim, limit, period_us, cap, init_ppm.
 * {level, share_ppm, cooldown_us_left, granted}. */
static const char view_src[] = RL_COMMON
	"local d = dim(tonumber(ARGV[3]), 4)\n"
	"return {math.floor(level(d)), math.floor(d.sh), math.max(0, d.cd - now), d.g}\n";

#define BUDGET_COMMON                                                                          \
	"local B = 1000000000\n"                                                               \
	"local function num(s)\n"                                                              \
	"  s = s or '0'\n"                                                                     \
	"  local n = #s\n"                                                                     \
	"  if n <= 9 then return {0, tonumber(s) or 0} end\n"                                  \
	"  return {tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))}\n"       \
	"end\n"                                                                                \
	"local function add(a, b)\n"                                                           \
	"  local hi, lo = a[1] + b[1], a[2] + b[2]\n"                                          \
	"  if lo >= B then hi, lo = hi + 1, lo - B end\n"                                      \
	"  return {hi, lo}\n"                                                                  \
	"end\n"                                                                                \
	"local function le(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] <= b[2]) end\n"  \
	"local function str(a)\n"                                                              \
	"  if a[1] == 0 then return string.format('%d', a[2]) end\n"                           \
	"  return string.format('%d%09d', a[1], a[2])\n"                                       \
	"end\n"                                                                                \
	"local function sum(key)\n"                                                            \
	"  local s = {0, 0}\n"                                                                 \
	"  for _, v in ipairs(redis.call('HVALS', key)) do s = add(s, num(v)) end\n"           \
	"  return s\n"                                                                         \
	"end\n"                                                                                \
	"local P, host, m, lease = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"                       \
	"local function live()\n"                                                              \
	"  redis.call('SET', P..'b:hb:'..m, '1', 'EX', lease)\n"                               \
	"  redis.call('SADD', P..'b:members', m)\n"                                            \
	"  local res = {0, 0}\n"                                                               \
	"  for _, x in ipairs(redis.call('SMEMBERS', P..'b:members')) do\n"                    \
	"    if redis.call('EXISTS', P..'b:hb:'..x) == 0 then\n"                               \
	"      redis.call('DEL', P..'b:res:'..x)\n"                                            \
	"      redis.call('SREM', P..'b:members', x)\n"                                        \
	"    else\n"                                                                           \
	"      res = add(res, sum(P..'b:res:'..x))\n"                                          \
	"    end\n"                                                                            \
	"  end\n"                                                                              \
	"  return res\n"                                                                       \
	"end\n"

/* ARGV: prefix, host, member, lease_s, day, month, res_id, amount,
 * day_limit, month_limit. {verdict (0 reserved, 1 day, 2 month), day,
 * month, reserved, host_day}, the figures before this reservation. */
static const char reserve_src[] = BUDGET_COMMON
	"local res = live()\n"
	"local dk, mk = P..'b:day:'..ARGV[5], P..'b:mon:'..ARGV[6]\n"
	"local day, mon, amt = sum(dk), sum(mk), num(ARGV[8])\n"
	"local out = {0, str(day), str(mon), str(res), redis.call('HGET', dk, host) or '0'}\n"
	"if ARGV[9] ~= '0' and not le(add(add(day, res), amt), num(ARGV[9])) then\n"
	"  out[1] = 1\n"
	"  return out\n"
	"end\n"
	"if ARGV[10] ~= '0' and not le(add(add(mon, res), amt), num(ARGV[10])) then\n"
	"  out[1] = 2\n"
	"  return out\n"
	"end\n"
	"redis.call('HSET', P..'b:res:'..m, ARGV[7], ARGV[8])\n"
	"return out\n";

/* ARGV: prefix, host, member, lease_s, day, month, host_day, host_month,
 * then the reservation ids to drop. {day, month, reserved, host_day}. */
static const char publish_src[] = BUDGET_COMMON
	"for i = 9, #ARGV do redis.call('HDEL', P..'b:res:'..m, ARGV[i]) end\n"
	"local function setmax(key, v, ttl)\n"
	"  local cur = redis.call('HGET', key, host)\n"
	"  if not cur or not le(num(v), num(cur)) then redis.call('HSET', key, host, v) end\n"
	"  redis.call('EXPIRE', key, ttl)\n"
	"end\n"
	"local dk, mk = P..'b:day:'..ARGV[5], P..'b:mon:'..ARGV[6]\n"
	"setmax(dk, ARGV[7], 3 * 86400)\n"
	"setmax(mk, ARGV[8], 40 * 86400)\n"
	"local res = live()\n"
	"return {str(sum(dk)), str(sum(mk)), str(res), redis.call('HGET', dk, host) or '0'}\n";

const char *const am_redis_script_src[RS_N] = {
	[RS_ACQUIRE] = acquire_src, [RS_SETTLE] = settle_src,   [RS_429] = on429_src,
	[RS_VIEW] = view_src,       [RS_RESERVE] = reserve_src, [RS_PUBLISH] = publish_src,
};
