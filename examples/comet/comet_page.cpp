#include "comet_page.hpp"

namespace comet {

const std::string_view page_html = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>comet on libactor</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 44em; margin: 2em auto; }
  input { font: inherit; } #log { background: #f4f4f4; padding: .5em; height: 20em; overflow: auto; }
  .meta { color: #777; }
</style>
</head>
<body>
<h1>comet on libactor</h1>
<p>Open this page in two tabs with the same user id, then send to it. Every stream is a
process of its own; <code>/metrics</code> counts them.</p>
<form id="who">User id <input id="user" value="alice" size="12"> <button>Listen</button></form>
<form id="say">Message <input id="msg" size="30" value="hello from the browser">
  <button name="to" value="user">Send to user</button>
  <button name="to" value="all">Broadcast</button></form>
<pre id="log"></pre>
<script>
const log = (text, cls) => {
  const line = document.createElement('div');
  if (cls) line.className = cls;
  line.textContent = text;
  document.getElementById('log').append(line);
};
let source = null;
function listen() {
  if (source) source.close();
  const user = document.getElementById('user').value;
  // EventSource reconnects by itself and names the last id it saw in
  // Last-Event-ID: the server replays what this tab missed.
  source = new EventSource('/events/' + encodeURIComponent(user));
  source.onopen = () => log('listening as ' + user, 'meta');
  source.onmessage = (e) => log('#' + e.lastEventId + ' ' + e.data);
  source.onerror = () => log('stream interrupted; reconnecting', 'meta');
  // Told first when the server could not replay exactly what this tab
  // missed (a restart, a long absence, a slow connection).
  source.addEventListener('reset', (e) => {
    const r = JSON.parse(e.data);
    log('reset: ' + r.reason + ', lost ' + (r.lost === null ? 'an unknown number' : r.lost), 'meta');
  });
}
document.getElementById('who').onsubmit = (e) => { e.preventDefault(); listen(); };
document.getElementById('say').onsubmit = async (e) => {
  e.preventDefault();
  const user = document.getElementById('user').value;
  const url = e.submitter.value === 'all' ? '/broadcast' : '/send/' + encodeURIComponent(user);
  const res = await fetch(url, { method: 'POST', body: document.getElementById('msg').value });
  const id = res.headers.get('X-Message-Id');
  log('sent' + (id ? ' as #' + id : '') + ', streams reached: ' + (await res.text()).trim(), 'meta');
};
listen();
</script>
</body>
</html>
)html";

} // namespace comet
