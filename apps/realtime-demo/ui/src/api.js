// The Message table's REST calls. Paths are absolute on the page's own
// origin, so the page works on any host and port, over http or https.
export const TABLE_PATH = '/realtime-demo/message';

// Sends one request and returns the record the server answered with (null
// for 204). Throws an Error whose message is fit to show the user: the
// server's {"error":{"code","message","field"}} or what went wrong on the way.
export async function send(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new Error('the server did not answer (is it running?)');
  }
  if (response.ok) return response.status === 204 ? null : response.json().catch(() => null);
  let error = null;
  try {
    error = (await response.json()).error;
  } catch {
    // not a JSON error body: the status says enough
  }
  if (!error) throw new Error(`HTTP ${response.status}`);
  throw new Error(`${error.message} (${error.code})`);
}

export const createMessage = (fields) => send('POST', TABLE_PATH, fields);
export const updateMessage = (id, fields) =>
  send('PATCH', `${TABLE_PATH}/${encodeURIComponent(id)}`, fields);
export const deleteMessage = (id) => send('DELETE', `${TABLE_PATH}/${encodeURIComponent(id)}`);
