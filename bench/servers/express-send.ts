import express from 'express';
import { announce, benchPageHtml, benchPort } from './page';

// Bare Express 5: res.send of a constant string (hashes the body for an ETag on every call).
const html = benchPageHtml();
const app = express();
app.get('/listings/:id', (_req, res) => {
  res.send(html);
});
app.listen(benchPort(), '127.0.0.1', () => announce(benchPort()));
