-- wrk script: sends `depth` (first script argument, default 16) pipelined
-- POSTs of a new record per round trip (the server generates each id), the
-- POST of post.lua in the shape of pipeline.lua.
wrk.method = "POST"
wrk.body = '{"title":"t","content":"c"}'
wrk.headers["Content-Type"] = "application/json"
local depth = 16
function init(args)
  depth = tonumber(args[1]) or depth
  local r = {}
  for i = 1, depth do r[i] = wrk.format(nil) end
  req = table.concat(r)
end
function request() return req end
