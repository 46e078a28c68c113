import { createServer } from 'node:http';
import { announce, benchPageHtml, benchPort } from './page';

// The ceiling: plain Node http ending a constant Buffer.
const body = Buffer.from(benchPageHtml());
const server = createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': body.length });
  res.end(body);
});
server.listen(benchPort(), '127.0.0.1', () => announce(benchPort()));
