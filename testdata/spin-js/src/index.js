// A Spin HTTP app written with Spin's JS SDK tooling (built by j2w): answers as the
// Spin JS templates do, with the Fetch API.
addEventListener('fetch', (event) => event.respondWith(handle(event.request)));

async function handle(req) {
  const url = new URL(req.url);
  if (url.pathname.endsWith('/echo')) return new Response(await req.arrayBuffer());
  if (url.pathname.endsWith('/teapot')) return new Response(null, { status: 418 });
  if (url.pathname.endsWith('/headers')) {
    let out = '';
    for (const [k, v] of req.headers) out += `${k}: ${v}\n`;
    return new Response(out);
  }
  return new Response(`hello from a JS component at ${url.pathname}\n`, { headers: { 'content-type': 'text/plain' } });
}
