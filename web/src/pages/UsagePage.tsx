import { useEffect, useState } from 'react';
import { call, client, type UsageEntry } from '../api';
import { ErrorMessage, formatDate, Link, StatusBadge } from '../ui';

/** GET /usage: every job with its model, status and the credits it cost, newest first. */
export function UsagePage() {
  const [items, setItems] = useState<UsageEntry[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<unknown>();
  const load = async (after?: string) => {
    try {
      const page = await call(client.GET('/api/v1/usage', { params: { query: { limit: 20, cursor: after } } }));
      setItems((current) => (after ? [...current, ...page.items] : page.items));
      setCursor(page.next_cursor);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load();
  }, []); // the first page, once

  return (
    <section aria-labelledby="usage-title">
      <h1 id="usage-title">Usage</h1>
      <ErrorMessage error={error} />
      {items.length === 0 && cursor !== undefined && <p>No jobs yet.</p>}
      {items.length > 0 && (
        <table>
          <caption className="hint">Jobs on catalog models and the credits each cost (reserved while running)</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Model</th>
              <th scope="col">Status</th>
              <th scope="col">Credits</th>
              <th scope="col">Started</th>
              <th scope="col">Finished</th>
            </tr>
          </thead>
          <tbody>
            {items.map((u) => (
              <tr key={u.job_id}>
                <td>
                  <Link to={`/?job=${u.job_id}`}>
                    <code>{u.job_id.slice(0, 8)}</code>
                  </Link>
                </td>
                <td>{u.model}</td>
                <td>
                  <StatusBadge status={u.status} live={false} />
                </td>
                <td>{u.credits_spent ?? '—'}</td>
                <td>{formatDate(u.created_at)}</td>
                <td>{formatDate(u.completed_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <button type="button" onClick={() => void load(cursor)}>
          Load more
        </button>
      )}
    </section>
  );
}
