import { useState } from 'react';
import { deleteMessage, updateMessage } from './api.js';

// Newest first (by __createdAt__, then id).
function sorted(records) {
  return [...records.values()].sort(
    (a, b) =>
      (b.__createdAt__ ?? '').localeCompare(a.__createdAt__ ?? '') || String(b.id).localeCompare(String(a.id)),
  );
}

export default function MessageList({ records }) {
  const messages = sorted(records);
  if (messages.length === 0) return <p className="dim">No messages yet.</p>;
  return (
    <ul className="list" data-testid="message-list">
      {messages.map((m) => (
        <Message key={m.id} message={m} />
      ))}
    </ul>
  );
}

// One message, with Edit (PATCH title and content) and Delete. Its new
// state, or its removal, arrives over the stream.
function Message({ message }) {
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState('');
  const [content, setContent] = useState('');
  const [error, setError] = useState('');

  async function run(call) {
    try {
      await call();
      setError('');
      return true;
    } catch (err) {
      setError(err.message);
      return false;
    }
  }

  function startEdit() {
    setTitle(message.title);
    setContent(message.content);
    setEditing(true);
  }

  async function save(e) {
    e.preventDefault();
    if (await run(() => updateMessage(message.id, { title, content }))) setEditing(false);
  }

  return (
    <li className="message" data-testid="message" data-id={message.id}>
      {editing ? (
        <form className="edit" onSubmit={save}>
          <input value={title} onChange={(e) => setTitle(e.target.value)} data-testid="edit-title" />
          <textarea
            rows={2}
            value={content}
            onChange={(e) => setContent(e.target.value)}
            data-testid="edit-content"
          />
          <div className="actions">
            <button type="submit" data-testid="save">
              Save
            </button>
            <button type="button" className="plain" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          <div className="head">
            <strong data-testid="message-title">{message.title}</strong>
            <span className="dim">
              {message.author ? `${message.author} · ` : ''}
              {formatTime(message.__updatedAt__ ?? message.__createdAt__)}
            </span>
          </div>
          <p data-testid="message-content">{message.content}</p>
          <div className="actions">
            <button type="button" className="plain" onClick={startEdit} data-testid="edit">
              Edit
            </button>
            <button
              type="button"
              className="plain danger"
              onClick={() => run(() => deleteMessage(message.id))}
              data-testid="delete"
            >
              Delete
            </button>
          </div>
        </>
      )}
      {error && (
        <p className="error" data-testid="error">
          {error}
        </p>
      )}
    </li>
  );
}

function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
}
