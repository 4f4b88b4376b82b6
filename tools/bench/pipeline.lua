-- wrk script: sends `depth` (first script argument, default 16) pipelined GETs
-- of the URL per round trip (wrk's own pipelining example).
local depth = 16
function init(args)
  depth = tonumber(args[1]) or depth
  local r = {}
  for i = 1, depth do r[i] = wrk.format(nil) end
  req = table.concat(r)
end
function request() return req end
