import { useState } from 'react';
import { createMessage } from './api.js';

// Posts a new message. The new message shows in the list when the stream
// brings it back, like everyone else's. The fields are not `required`: an
// empty title goes to the server so its validation error shows.
export default function MessageForm() {
  const [title, setTitle] = useState('');
  const [content, setContent] = useState('');
  const [author, setAuthor] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    try {
      const fields = Object.fromEntries(
        Object.entries({ title, content, author }).filter(([, value]) => value !== ''),
      );
      await createMessage(fields);
      setTitle('');
      setContent('');
      setError('');
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="compose" onSubmit={submit}>
      <input
        placeholder="Title"
        value={title}
        onChange={(e) => setTitle(e.target.value)}
        data-testid="new-title"
      />
      <input
        placeholder="Your name (optional)"
        value={author}
        onChange={(e) => setAuthor(e.target.value)}
        data-testid="new-author"
      />
      <textarea
        placeholder="Message"
        rows={2}
        value={content}
        onChange={(e) => setContent(e.target.value)}
        data-testid="new-content"
      />
      <button type="submit" disabled={busy} data-testid="post">
        Post
      </button>
      {error && (
        <p className="error" data-testid="error">
          {error}
        </p>
      )}
    </form>
  );
}
