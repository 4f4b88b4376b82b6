import { useEffect, useState } from 'react';
import { TABLE_PATH } from './api.js';

// How long the indicator says "resumed · N missed" before it says "live".
const RESUMED_SHOWN_MS = 10000;
// After the browser gives up on an EventSource (an HTTP error rather than a
// dropped connection), a new one is opened this much later: the server's
// own `retry:`.
const REOPEN_MS = 3000;

// Follows the Message table over one EventSource (docs/STREAMS.md, SSE) and
// returns {records, indicator}:
//   records    Map id -> record, built from the retained replay on load and
//              kept current by the live events; never fetched separately.
//   indicator  {state: 'connecting' | 'live' | 'reconnecting' | 'resumed', missed}
//
// On a dropped connection the EventSource reconnects by itself and sends
// Last-Event-ID; the server then sends no snapshot, only the entries after
// it. Those are the events whose position is at most the `connected`
// notice's (the log head when the new stream started): they are counted as
// missed. A `reset` (our position is gone) brings a fresh snapshot instead.
//
// Every event received is also appended, as it came, to window.__events
// ({event, type, id, recordId}) so the browser test (and a curious reader
// in the console) can see duplicates the Map would hide.
export function useMessageStream() {
  const [records, setRecords] = useState(() => new Map());
  const [indicator, setIndicator] = useState({ state: 'connecting', missed: 0 });

  useEffect(() => {
    const events = (window.__events ??= []);
    let source = null;
    let stopped = false;
    let reopenTimer = 0;
    let resumedTimer = 0;
    let lastId = ''; // the last position received: where to resume from
    let synced = false; // a snapshot has been applied once
    let snapshot = null; // Map while a retained replay is arriving
    let catchUpTo = null; // after a resume: positions up to here were missed
    let missed = 0;

    const edit = (change) =>
      setRecords((previous) => {
        const next = new Map(previous);
        change(next);
        return next;
      });

    const showResumed = () => {
      setIndicator({ state: 'resumed', missed });
      clearTimeout(resumedTimer);
      resumedTimer = setTimeout(() => setIndicator({ state: 'live', missed: 0 }), RESUMED_SHOWN_MS);
    };

    // Every event with an id: remember it, and count it when it is catch-up.
    const positioned = (e) => {
      lastId = e.lastEventId;
      if (catchUpTo !== null && Number(e.lastEventId) <= catchUpTo) {
        missed++;
        showResumed();
      }
    };

    const onNotice = (e) => {
      const notice = JSON.parse(e.data);
      events.push({ event: e.type, type: notice.type, id: e.lastEventId, recordId: notice.id });
      switch (notice.type) {
        case 'connected':
          if (!synced) {
            snapshot = new Map();
          } else {
            catchUpTo = notice.position;
            missed = 0;
            showResumed();
          }
          break;
        case 'reset':
          // Our position is unknown or expired: a full snapshot follows.
          snapshot = new Map();
          catchUpTo = null;
          break;
        case 'retained':
          snapshot?.set(notice.id, notice.data);
          break;
        case 'synced':
          lastId = e.lastEventId;
          if (snapshot) {
            const replay = snapshot;
            snapshot = null;
            setRecords(replay);
            clearTimeout(resumedTimer);
            setIndicator({ state: 'live', missed: 0 });
          }
          synced = true;
          break;
        default:
      }
    };

    const onUpdate = (e) => {
      const record = JSON.parse(e.data);
      events.push({ event: 'update', id: e.lastEventId, recordId: record.id });
      edit((m) => m.set(record.id, record));
      positioned(e);
    };

    const onDelete = (e) => {
      const { id } = JSON.parse(e.data);
      events.push({ event: 'delete', id: e.lastEventId, recordId: id });
      edit((m) => m.delete(id));
      positioned(e);
    };

    const onPublish = (e) => {
      events.push({ event: 'publish', id: e.lastEventId });
      positioned(e);
    };

    const onError = () => {
      if (stopped) return;
      clearTimeout(resumedTimer);
      setIndicator({ state: 'reconnecting', missed: 0 });
      // CONNECTING: the browser retries by itself, with Last-Event-ID.
      // CLOSED: it gave up; open a new one that resumes by the query.
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(reopenTimer);
        reopenTimer = setTimeout(open, REOPEN_MS);
      }
    };

    function open() {
      source?.close();
      const resume = lastId ? `&lastEventId=${encodeURIComponent(lastId)}` : '';
      source = new EventSource(`${TABLE_PATH}?stream=sse&retained=true${resume}`);
      source.addEventListener('message', onNotice);
      source.addEventListener('update', onUpdate);
      source.addEventListener('delete', onDelete);
      source.addEventListener('publish', onPublish);
      source.addEventListener('error', onError);
    }

    open();
    return () => {
      stopped = true;
      clearTimeout(reopenTimer);
      clearTimeout(resumedTimer);
      source.close();
    };
  }, []);

  return { records, indicator };
}
