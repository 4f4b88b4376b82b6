-- wrk script: sends `depth` (first script argument, default 16) pipelined
-- requests of the URL per round trip (wrk's own pipelining example): GETs, or
-- with `post` as the second argument POSTs of a new record each (the server
-- generates its id), the request of post.lua.
local depth = 16
function init(args)
  depth = tonumber(args[1]) or depth
  if args[2] == "post" then
    wrk.method = "POST"
    wrk.body = '{"title":"t","content":"c"}'
    wrk.headers["Content-Type"] = "application/json"
  end
  local r = {}
  for i = 1, depth do r[i] = wrk.format(nil) end
  req = table.concat(r)
end
function request() return req end
