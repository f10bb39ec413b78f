/** What a test gets back from an HTTP call: status, headers, and the parsed JSON body (if any). */
export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** Options of a call: bearer token, extra headers, and a raw (unserialised) body. */
export interface CallOptions {
  token?: string;
  headers?: Record<string, string>;
  raw?: string;
}

/** A tiny HTTP client bound to a running app: real sockets, real JSON. */
export function httpClient(baseUrl: string) {
  const call = async <T = any>(method: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let payload: string | undefined = opts.raw;
    if (body !== undefined) {
      payload = JSON.stringify(body);
    }
    if (payload !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body: payload });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  return {
    baseUrl,
    get: <T = any>(path: string, opts?: CallOptions) => call<T>('GET', path, undefined, opts),
    post: <T = any>(path: string, body?: unknown, opts?: CallOptions) => call<T>('POST', path, body, opts),
    put: <T = any>(path: string, body?: unknown, opts?: CallOptions) => call<T>('PUT', path, body, opts),
    patch: <T = any>(path: string, body?: unknown, opts?: CallOptions) => call<T>('PATCH', path, body, opts),
    delete: <T = any>(path: string, opts?: CallOptions) => call<T>('DELETE', path, undefined, opts),
    call,
  };
}
export type HttpClient = ReturnType<typeof httpClient>;
