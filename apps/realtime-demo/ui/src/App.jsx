import ConnectionIndicator from './ConnectionIndicator.jsx';
import MessageForm from './MessageForm.jsx';
import MessageList from './MessageList.jsx';
import WsPanel from './WsPanel.jsx';
import { useMessageStream } from './useMessageStream.js';

// Left: the Message table as the EventSource sees it, with a form to post
// and buttons to edit and delete. The list changes only through the stream,
// never from a REST answer. Right: the same table's raw WebSocket events.
export default function App() {
  const { records, indicator } = useMessageStream();
  return (
    <>
      <header>
        <h1>
          Eventide <span className="dim">· realtime demo</span>
        </h1>
        <ConnectionIndicator {...indicator} />
      </header>
      <main>
        <section className="messages">
          <h2>Messages</h2>
          <MessageForm />
          <MessageList records={records} />
        </section>
        <WsPanel />
      </main>
    </>
  );
}
