-- wrk script: POSTs a new record per request (the server generates its id).
wrk.method = "POST"
wrk.body = '{"title":"wrk","content":"c"}'
wrk.headers["Content-Type"] = "application/json"
