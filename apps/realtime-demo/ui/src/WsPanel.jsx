import { useEffect, useState } from 'react';
import { TABLE_PATH } from './api.js';

// How many events the panel keeps, newest first.
const KEPT = 50;
// Wait before reconnecting a dropped WebSocket.
const RECONNECT_MS = 1000;

// The same table over a WebSocket (docs/STREAMS.md, WebSocket): every frame
// with a message_type, shown raw. A dropped connection reconnects with
// ?lastEventId=<last seq>, so the panel resumes where it was.
export default function WsPanel() {
  const [frames, setFrames] = useState([]);
  const [status, setStatus] = useState('connecting');

  useEffect(() => {
    let ws = null;
    let stopped = false;
    let timer = 0;
    let lastSeq = 0;
    let n = 0; // a key per frame: the same bytes may come twice

    function connect() {
      const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const resume = lastSeq ? `?lastEventId=${lastSeq}` : '';
      ws = new WebSocket(`${scheme}//${location.host}${TABLE_PATH}${resume}`);
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.type === 'subscribed') setStatus(lastSeq ? `resumed after seq ${lastSeq}` : 'subscribed');
        if (!m.message_type) return;
        if (typeof m.seq === 'number') lastSeq = m.seq;
        const frame = { key: ++n, type: m.message_type, raw: e.data };
        setFrames((previous) => [frame, ...previous].slice(0, KEPT));
      };
      ws.onclose = () => {
        if (stopped) return;
        setStatus('reconnecting…');
        timer = setTimeout(connect, RECONNECT_MS);
      };
    }

    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      ws.close();
    };
  }, []);

  return (
    <section className="ws" data-testid="ws-panel">
      <h2>
        WebSocket events <span className="dim" data-testid="ws-status">{status}</span>
      </h2>
      {frames.length === 0 && <p className="dim">Nothing yet: post, edit or delete a message.</p>}
      <ol>
        {frames.map((f) => (
          <li key={f.key} data-testid="ws-event" data-type={f.type}>
            <span className={`tag ${f.type}`}>{f.type}</span>
            <code>{f.raw}</code>
          </li>
        ))}
      </ol>
    </section>
  );
}
