-- The scripting environment, as Redis 7.0 builds it (scriptingInit, luaRegisterRedisAPI,
-- scriptingEnableGlobalsProtection): the `redis` table, the error handler, globals
-- protection. Run once per VM with the Rust parts as arguments; returns the hooks the
-- runner uses. Errors raised here are tables {err = 'CODE message'}, as luaPushError makes.
local sha1hex_raw, log_raw, rand_raw, srand_raw, call_c, sha1hex_c, log_c, setresp_c, set_repl_c = ...
local dbg = debug
debug = nil
local G = _G
local registry = dbg.getregistry()
local error, type, select, tostring, tonumber, floor = error, type, select, tostring, tonumber, math.floor
local string_sub, string_find, string_gsub = string.sub, string.find, string.gsub
local rawget, rawset, setmetatable, setfenv = rawget, rawset, setmetatable, setfenv

-- The running script's `redis.call` (set by the runner for one script), and its RESP version.
local impl, resp = nil, 2

local function failure(msg)
  return false, {err = 'ERR ' .. msg}
end

-- Implementations behind the C trampolines (ffi.rs): (true, value) or (false, error).
registry['autocache.call'] = function(...)
  return impl(resp, ...)
end
registry['autocache.sha1hex'] = function(...)
  if select('#', ...) ~= 1 then return failure('wrong number of arguments') end
  return true, sha1hex_raw((...))
end
registry['autocache.log'] = function(...)
  local argc = select('#', ...)
  if argc < 2 then return failure('redis.log() requires two arguments or more.') end
  local level = tonumber((...))
  if level == nil then return failure('First argument must be a number (log level).') end
  if level < 0 or level > 3 then return failure('Invalid debug level.') end
  local parts = {}
  for j = 2, argc do
    local a = select(j, ...)
    local t = type(a)
    if t == 'string' or t == 'number' then parts[#parts + 1] = tostring(a) end
  end
  log_raw(level, table.concat(parts, ' '))
  return true, nil
end
registry['autocache.setresp'] = function(...)
  if select('#', ...) ~= 1 then return failure('redis.setresp() requires one argument.') end
  local r = tonumber((...))
  if r ~= 2 and r ~= 3 then return failure('RESP version must be 2 or 3.') end
  resp = r
  return true, nil
end
registry['autocache.set_repl'] = function(...)
  if select('#', ...) ~= 1 then return failure('redis.set_repl() requires two arguments.') end
  local f = tonumber((...)) or 0
  if f < 0 or f > 3 or f % 1 ~= 0 then
    return failure('Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.')
  end
  return true, nil
end

-- luaPushErrorBuff: "-CODE msg" keeps its code, anything else gets ERR; CR/LF trimmed.
local function error_table(e)
  if string_sub(e, 1, 1) ~= '-' then
    e = '-' .. e
  end
  local code, msg
  local sp = string_find(e, ' ', 1, true)
  if sp then
    code, msg = string_sub(e, 2, sp - 1), string_sub(e, sp + 1)
  else
    code, msg = 'ERR', string_sub(e, 2)
  end
  msg = string_gsub(string_gsub(msg, '^[\r\n]+', ''), '[\r\n]+$', '')
  return {err = code .. ' ' .. msg}
end

redis = {
  call = call_c,
  pcall = function(...)
    local ok, v = impl(resp, ...)
    return v
  end,
  sha1hex = sha1hex_c,
  error_reply = function(...)
    local e = ...
    if select('#', ...) ~= 1 or type(e) ~= 'string' then
      return {err = 'ERR wrong number or type of arguments'}
    end
    return error_table(e)
  end,
  status_reply = function(...)
    local s = ...
    if select('#', ...) ~= 1 or type(s) ~= 'string' then
      return {err = 'ERR wrong number or type of arguments'}
    end
    return {ok = s}
  end,
  log = log_c,
  setresp = setresp_c,
  set_repl = set_repl_c,
  replicate_commands = function() return true end,
  breakpoint = function() return false end,
  debug = function() end,
  LOG_DEBUG = 0,
  LOG_VERBOSE = 1,
  LOG_NOTICE = 2,
  LOG_WARNING = 3,
  REPL_NONE = 0,
  REPL_AOF = 1,
  REPL_SLAVE = 2,
  REPL_REPLICA = 2,
  REPL_ALL = 3,
}

-- Redis's PRNG (redisLrand48), reseeded with 0 before every script, so that a script's
-- random numbers are the same at every run.
math.random = function(...)
  local r = rand_raw()
  local n = select('#', ...)
  if n == 0 then
    return r
  elseif n == 1 then
    local u = floor(tonumber((...)) or error("bad argument #1 to 'random' (number expected)", 2))
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 2) end
    return floor(r * u) + 1
  elseif n == 2 then
    local l, u = ...
    l = floor(tonumber(l) or error("bad argument #1 to 'random' (number expected)", 2))
    u = floor(tonumber(u) or error("bad argument #2 to 'random' (number expected)", 2))
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 2) end
    return floor(r * (u - l + 1)) + l
  end
  error('wrong number of arguments', 2)
end
math.randomseed = function(seed)
  srand_raw(floor(tonumber(seed) or error("bad argument #1 to 'randomseed' (number expected)", 2)))
end

loadfile = nil
dofile = nil

-- Redis 7.0's pcall (luaRedisPcall): an error table comes back as its `err` text.
local lua_pcall = pcall
local function pcall_result(ok, ...)
  if ok then
    return ok, ...
  end
  local e = ...
  if type(e) == 'table' then
    local m = e.err
    if type(m) == 'string' or type(m) == 'number' then
      return false, m
    end
  end
  return false, e
end
pcall = function(...)
  return pcall_result(lua_pcall(...))
end

-- Reports where the error happened: the caller of a C function (redis.call, error …), never
-- this file's wrappers.
local function handler(err)
  local level = 2
  local i = dbg.getinfo(level, 'nSl')
  if i and i.what == 'C' then
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  while i and i.source == '=autocache' do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end

-- Scripts see the globals through a read-only view (Redis 7.0 makes its global table
-- read-only): reading an unknown name and any assignment fail, as there.
local env = setmetatable({}, {
  __index = function(t, n)
    local v = rawget(G, n)
    if v == nil and dbg.getinfo(2) and dbg.getinfo(2, 'S').what ~= 'C' then
      error("Script attempted to access nonexistent global variable '" .. tostring(n) .. "'", 2)
    end
    return v
  end,
  __newindex = function(t, n, v)
    error('Attempt to modify a readonly table', 2)
  end,
  __metatable = false,
})

-- (install a script's redis.call implementation, read its RESP version, the error
-- handler, give a compiled script its environment)
return function(f)
  impl, resp = f, 2
end, function()
  return resp
end, handler, function(f)
  setfenv(f, env)
end
