import { useState, type FormEvent } from 'react';
import { call, client, withKey, type Schemas } from '../api';
import { navigate } from '../router';
import { useSession } from '../session';
import { ErrorMessage } from '../ui';

type CreatedUser = Schemas['CreatedUser'];

/** Sign up (POST /users) or sign in with an existing API key; signed in: the key's end and sign out. */
export function AccountPage() {
  const { apiKey, newAccount, signIn, signOut } = useSession();
  if (apiKey) {
    return (
      <section aria-labelledby="account-title">
        <h1 id="account-title">Account</h1>
        {newAccount && <NewKey email={newAccount.email} apiKey={apiKey} />}
        <p>
          Signed in with the API key ending in <code>{apiKey.slice(-6)}</code>. It is kept in this browser only.
        </p>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </section>
    );
  }
  return (
    <section aria-labelledby="account-title">
      <h1 id="account-title">Welcome</h1>
      <p>Generate images and audio with catalog models, or train a model of your own from your photos.</p>
      <div className="columns">
        <SignUp
          onCreated={(user) => {
            signIn(user.api_key, { email: user.email });
            navigate('/account');
          }}
        />
        <PasteKey
          onKey={(key) => {
            signIn(key);
            navigate('/');
          }}
        />
      </div>
    </section>
  );
}

function NewKey({ email, apiKey }: { email: string; apiKey: string }) {
  return (
    <div className="notice" role="status">
      <p>
        Account <strong>{email}</strong> created. Your API key is shown only now; keep a copy to use it elsewhere (curl, scripts):
      </p>
      <p>
        <code data-testid="new-api-key">{apiKey}</code>
      </p>
    </div>
  );
}

function SignUp({ onCreated }: { onCreated: (user: CreatedUser) => void }) {
  const [email, setEmail] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onCreated(await call(client.POST('/api/v1/users', { body: { email } })));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-labelledby="signup-title" className="card">
      <h2 id="signup-title">Create an account</h2>
      <label>
        Email
        <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} autoComplete="email" />
      </label>
      <ErrorMessage error={error} />
      <button type="submit" disabled={busy}>
        Sign up
      </button>
    </form>
  );
}

function PasteKey({ onKey }: { onKey: (key: string) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      await call(client.GET('/api/v1/balance', { headers: withKey(key.trim()) }));
      onKey(key.trim());
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-labelledby="key-title" className="card">
      <h2 id="key-title">I have an API key</h2>
      <label>
        API key
        <input type="password" required value={key} onChange={(e) => setKey(e.target.value)} autoComplete="off" />
      </label>
      <ErrorMessage error={error} />
      <button type="submit">Use this key</button>
    </form>
  );
}
