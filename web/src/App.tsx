import type { ReactNode } from 'react';
import { AccountPage } from './pages/AccountPage';
import { BatchesPage } from './pages/BatchesPage';
import { BillingPage } from './pages/BillingPage';
import { CheckoutReturnPage } from './pages/CheckoutReturnPage';
import { GeneratePage } from './pages/GeneratePage';
import { KeysPage } from './pages/KeysPage';
import { ModelsPage } from './pages/ModelsPage';
import { TrainPage } from './pages/TrainPage';
import { UsagePage } from './pages/UsagePage';
import { WebhooksPage } from './pages/WebhooksPage';
import { useLocation } from './router';
import { SessionProvider, useSession } from './session';
import { Link } from './ui';

const PAGES: Array<{ path: string; label: string; page: () => ReactNode }> = [
  { path: '/', label: 'Run a model', page: () => <GeneratePage /> },
  { path: '/batches', label: 'Batches', page: () => <BatchesPage /> },
  { path: '/billing', label: 'Credits & plans', page: () => <BillingPage /> },
  { path: '/train', label: 'Train a model', page: () => <TrainPage /> },
  { path: '/models', label: 'My models', page: () => <ModelsPage /> },
  { path: '/usage', label: 'Usage', page: () => <UsagePage /> },
  { path: '/keys', label: 'API keys', page: () => <KeysPage /> },
  { path: '/webhooks', label: 'Webhooks', page: () => <WebhooksPage /> },
  { path: '/account', label: 'Account', page: () => <AccountPage /> },
];

export function App() {
  return (
    <SessionProvider>
      <Shell />
    </SessionProvider>
  );
}

/** Header, navigation and the current page; without an API key every path shows the sign-up page. */
function Shell() {
  const { apiKey, balance } = useSession();
  const { path } = useLocation();
  const current = path.startsWith('/checkout/') ? undefined : (PAGES.find((p) => p.path === path) ?? PAGES[0]!);
  return (
    <>
      <header className="top">
        <span className="brand">imagegen</span>
        {apiKey && (
          <nav aria-label="Main">
            <ul>
              {PAGES.map((p) => (
                <li key={p.path}>
                  <Link to={p.path} current={p === current}>
                    {p.label}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
        )}
        {apiKey && balance && (
          <p className="balance" data-testid="balance">
            <strong>{balance.credits}</strong> credits{balance.reserved > 0 ? ` (${balance.reserved} reserved)` : ''}
          </p>
        )}
      </header>
      <main>{!apiKey ? <AccountPage /> : current ? current.page() : <CheckoutReturnPage />}</main>
    </>
  );
}
