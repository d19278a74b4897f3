import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { call, client, forgetApiKey, storeApiKey, storedApiKey, withKey, type Balance, type ConsoleConfig } from './api';

export interface Session {
  apiKey: string | null;
  /** Set right after sign-up: the new account, whose key the API shows only once. */
  newAccount: { email: string } | undefined;
  signIn: (key: string, newAccount?: { email: string }) => void;
  signOut: () => void;
  balance: Balance | undefined;
  refreshBalance: () => void;
  /** Undefined until GET /console-config answered. */
  config: ConsoleConfig | undefined;
}

const SessionContext = createContext<Session | undefined>(undefined);

/** The signed-in user's API key (kept in sessionStorage, for this tab only), their balance and the API's console settings. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [apiKey, setApiKey] = useState(storedApiKey);
  const [newAccount, setNewAccount] = useState<{ email: string }>();
  const [balance, setBalance] = useState<Balance>();
  const [config, setConfig] = useState<ConsoleConfig>();

  const refreshBalance = useCallback(() => {
    if (!apiKey) return setBalance(undefined);
    call(client.GET('/api/v1/balance', { headers: withKey(apiKey) })).then(setBalance, () => setBalance(undefined));
  }, [apiKey]);
  useEffect(refreshBalance, [refreshBalance]);
  useEffect(() => {
    // Without an answer, checkouts are treated as real ones (paid at their checkout_url).
    call(client.GET('/api/v1/console-config')).then(setConfig, () => setConfig({ test_checkout: false }));
  }, []);

  const signIn = useCallback((key: string, account?: { email: string }) => {
    storeApiKey(key);
    setApiKey(key);
    setNewAccount(account);
  }, []);
  const signOut = useCallback(() => {
    forgetApiKey();
    setApiKey(null);
    setNewAccount(undefined);
  }, []);

  return <SessionContext.Provider value={{ apiKey, newAccount, signIn, signOut, balance, refreshBalance, config }}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}
