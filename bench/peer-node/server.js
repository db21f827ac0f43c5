'use strict';
// Benchmark reference ("the peer"): the stack Textual Chatroulette was first sketched on —
// Node.js + Express + ws + Redis pub/sub. Run two or more instances on different ports with the
// same REDIS_URL and REDIS_PREFIX; a message said on one reaches members on every instance.
//
// It speaks the subset of our WebSocket protocol the load generator uses:
//   server → client: hello, joined {room, nick, members, history: []},
//                    message {id, room, nick, text, at, staff} (to every member, sender included),
//                    presence {event: join|leave, nick}, error {code, message}
//   client → server: join {room, nick}, say {text}, leave {}
// plus GET /api/rooms → [{slug, members}] (seats kept in Redis sets, shared by the instances).
// No validation beyond JSON, no rate limits, no history: a fair sketch, not a product.
//
// Environment: PORT (default 3000), HOST (127.0.0.1), REDIS_URL (redis://127.0.0.1:6379),
// REDIS_PREFIX (peer).

const http = require('node:http');
const express = require('express');
const { WebSocketServer } = require('ws');
const { createClient } = require('redis');

const port = Number(process.env.PORT || 3000);
const host = process.env.HOST || '127.0.0.1';
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const prefix = process.env.REDIS_PREFIX || 'peer';
const instance = `${host}:${port}`;

const roomsKey = `${prefix}:rooms`;
const membersKey = (room) => `${prefix}:room:{${room}}:members`;
const channelOf = (room) => `${prefix}:room:{${room}}:events`;

const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
for (const client of [pub, sub]) {
  client.on('error', (err) => console.error(`[${instance}] redis: ${err.message}`));
}

/** room → Set of local sockets that joined it. */
const local = new Map();
/** room → Promise of the Redis subscription (rooms stay subscribed: the bench's set is bounded). */
const subscriptions = new Map();
let nextId = 0;

function deliver(room, buffer) {
  const members = local.get(room);
  if (!members) return;
  for (const ws of members) {
    if (ws.readyState === 1) ws.send(buffer, { binary: false });
  }
}

function ensureSubscribed(room) {
  let subscribed = subscriptions.get(room);
  if (!subscribed) {
    subscribed = sub.subscribe(channelOf(room), (message) => deliver(room, message), true);
    subscriptions.set(room, subscribed);
  }
  return subscribed;
}

function send(ws, frame) {
  if (ws.readyState === 1) ws.send(JSON.stringify(frame));
}

function error(ws, code, message) {
  send(ws, { type: 'error', code, message });
}

async function join(ws, room, nick) {
  if (typeof room !== 'string' || typeof nick !== 'string' || !room || !nick) {
    return error(ws, 'bad_frame', 'join needs room and nick');
  }
  if (ws.room) await leave(ws, false);
  await ensureSubscribed(room);
  await pub.multi().sAdd(roomsKey, room).sAdd(membersKey(room), nick).exec();
  ws.room = room;
  ws.nick = nick;
  const members = await pub.sMembers(membersKey(room));
  send(ws, { type: 'joined', room, nick, members, history: [] });
  let set = local.get(room);
  if (!set) {
    set = new Set();
    local.set(room, set);
  }
  set.add(ws);
  await pub.publish(channelOf(room), JSON.stringify({ type: 'presence', event: 'join', nick }));
}

async function leave(ws, confirm) {
  const room = ws.room;
  if (!room) return;
  ws.room = null;
  const set = local.get(room);
  if (set) set.delete(ws);
  await pub.sRem(membersKey(room), ws.nick);
  const presence = JSON.stringify({ type: 'presence', event: 'leave', nick: ws.nick });
  if (confirm && ws.readyState === 1) ws.send(presence);
  await pub.publish(channelOf(room), presence);
}

function say(ws, text) {
  if (typeof text !== 'string') return error(ws, 'bad_frame', 'say needs text');
  if (!ws.room) return error(ws, 'not_in_room', 'join a room before sending messages');
  nextId += 1;
  const frame = JSON.stringify({
    type: 'message',
    id: `${instance}-${nextId}`,
    room: ws.room,
    nick: ws.nick,
    text,
    at: new Date().toISOString(),
    staff: false,
  });
  return pub.publish(channelOf(ws.room), frame);
}

async function handle(ws, data, isBinary) {
  if (isBinary) return error(ws, 'bad_frame', 'binary frames are not accepted');
  let frame;
  try {
    frame = JSON.parse(data.toString());
  } catch {
    return error(ws, 'bad_frame', 'frames are JSON objects');
  }
  switch (frame && frame.type) {
    case 'join':
      return join(ws, frame.room, frame.nick);
    case 'say':
      return say(ws, frame.text);
    case 'leave':
      if (!ws.room) return error(ws, 'not_in_room', 'you are not in a room');
      return leave(ws, true);
    default:
      return error(ws, 'unknown_type', 'unknown frame type');
  }
}

const app = express();
app.get('/healthz', (_req, res) => res.type('text/plain').send('ok'));
app.get('/api/rooms', async (_req, res) => {
  try {
    const rooms = await pub.sMembers(roomsKey);
    const counts = await Promise.all(rooms.map((room) => pub.sCard(membersKey(room))));
    res.json(rooms.map((slug, i) => ({ slug, members: counts[i] })));
  } catch (err) {
    res.status(503).json({ code: 'unavailable', message: err.message });
  }
});

const server = http.createServer(app);
const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 64 * 1024, perMessageDeflate: false, clientTracking: false });

wss.on('connection', (ws) => {
  ws.room = null;
  ws.nick = null;
  // Frames of one socket are handled strictly in order.
  ws.chain = Promise.resolve();
  const run = (task) => {
    ws.chain = ws.chain.then(task).catch((err) => {
      console.error(`[${instance}] ${err.message}`);
      error(ws, 'unavailable', 'the chat is temporarily unavailable');
    });
  };
  ws.on('message', (data, isBinary) => run(() => handle(ws, data, isBinary)));
  ws.on('close', () => run(() => leave(ws, false)));
  ws.on('error', () => {});
  send(ws, { type: 'hello', version: 'peer-node', limits: {} });
});

async function main() {
  await pub.connect();
  await sub.connect();
  server.listen({ port, host, backlog: 4096 }, () => {
    let native = 'no';
    try {
      require('bufferutil');
      native = 'yes';
    } catch {
      native = 'no (JavaScript fallback)';
    }
    console.log(`listening on http://${instance} (bufferutil native: ${native})`);
  });
}

function stop() {
  server.close();
  Promise.allSettled([pub.quit(), sub.quit()]).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

main().catch((err) => {
  console.error(`[${instance}] cannot start: ${err.message}`);
  process.exit(1);
});
