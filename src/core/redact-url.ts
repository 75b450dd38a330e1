/**
 * Credentials embedded in a URL (`nats://user:pass@host`, `nats://token@host`), hidden before the
 * URL is printed, logged or served: `config print`, `/v1/status`, error messages.
 */

/** What a hidden password or token is shown as. */
export const URL_SECRET_MASK = '****';

const USERINFO = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^@/?#]*)@/;

/**
 * `url` with its password masked (`nats://bob:****@host`), or its whole user info when that has
 * no `:` (a NATS token: `nats://****@host`). A URL without user info is returned as is.
 */
export function redactUrl(url: string): string {
  const m = USERINFO.exec(url);
  if (m === null) return url;
  const [whole, scheme = '', userinfo = ''] = m;
  const colon = userinfo.indexOf(':');
  const shown = colon < 0 ? URL_SECRET_MASK : `${userinfo.slice(0, colon)}:${URL_SECRET_MASK}`;
  return `${scheme}${shown}@${url.slice(whole.length)}`;
}
