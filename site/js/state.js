// Constants, the DOM references (`ui`) and the one `state` object every module shares.

export const APP_TITLE = 'Textual Chatroulette';
export const NICK_RE = /^[\p{L}\p{M}\p{N} _.\-]+$/u;
export const REJOIN_TRANSIENT = new Set(['nick_taken', 'rate_limited', 'unavailable']);
export const ROOMS_REFRESH_MS = 5000;
export const TYPING_SEND_MS = 3000;
export const TYPING_SHOW_MS = 6000;   // a typing indicator always expires this long after the last `typing`
export const PING_MS = 25000;
export const SILENCE_LIMIT_MS = 70000;
export const JOIN_TIMEOUT_MS = 10000;
export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 15000;
export const REJOIN_RETRY_MAX = 4;
export const REJOIN_RETRY_MS = 1500;
export const POLICY_COOLDOWN_MS = 15000;
export const CHAT_ERROR_MS = 10000;
export const INTEREST_RE = /^[A-Za-z0-9_\-]{1,24}$/;
export const INTERESTS_MAX = 5;
export const SLUG_RE = /^[a-z0-9-]{2,32}$/;
export const TITLE_MAX = 60;
export const COPIED_MS = 4000;
export const OUTBOX_MAX = 10;        // messages waiting to be sent before Enter says "slow down"
export const AUTO_RESEND_MAX = 5;    // refusals (rate limit, slow mode) of one message resent by themselves
export const RATE_MARGIN = 0.9;      // the client's bucket refills a little slower than the server's
export const ROOM_POLL_MS = 10000;   // in a room, how often GET /api/rooms/{slug} is asked for its lock
export const LEAVE_GRACE_MS = 3000;  // "X left" waits this long: a quick reconnect says nothing
export const LOBBY = 'lobby';
// Timings tests may shorten (window.__chatTuning, set before the page's scripts run).
const tuning = (window.__chatTuning && typeof window.__chatTuning === 'object') ? window.__chatTuning : {};
export const WAIT_OFFER_MS = Number(tuning.waitOfferMs) > 0 ? Number(tuning.waitOfferMs) : 20000;

export const $ = (id) => document.getElementById(id);
export const ui = {
  banner: $('banner'), landing: $('landing'), nick: $('nick'), nickHelp: $('nick-help'),
  nickError: $('nick-error'), landingError: $('landing-error'), landingStatus: $('landing-status'),
  rooms: $('rooms'), roomsStatus: $('rooms-status'),
  chat: $('chat'), roomTitle: $('room-title'), roomTopic: $('room-topic'), meNick: $('me-nick'),
  leave: $('leave'), messages: $('messages'), newMessages: $('new-messages'),
  memberPanel: $('member-panel'), membersToggle: $('members-toggle'), memberCount: $('member-count'),
  members: $('members'), typing: $('typing'), chatError: $('chat-error'), composer: $('composer'),
  input: $('input'), counter: $('counter'), send: $('send'),
  invite: $('invite'), inviteTitle: $('invite-title'), inviteTopic: $('invite-topic'),
  inviteCount: $('invite-count'), inviteError: $('invite-error'), inviteJoin: $('invite-join'),
  rulesCard: $('rules-card'), rulesText: $('rules-text'), rulesCheck: $('rules-check'),
  rouletteForm: $('roulette-form'), interests: $('interests'), interestsError: $('interests-error'),
  roulette: $('roulette'),
  createForm: $('create-form'), createTitle: $('create-title'), createCapacity: $('create-capacity'),
  capacityHelp: $('capacity-help'), createListed: $('create-listed'), createError: $('create-error'),
  create: $('create'),
  waiting: $('waiting'), waitingTitle: $('waiting-title'), waitingInterests: $('waiting-interests'),
  waitingStatus: $('waiting-status'), cancel: $('cancel'),
  copyStatus: $('copy-status'), copyInvite: $('copy-invite'), next: $('next'), block: $('block'),
  inviteBar: $('invite-bar'), inviteUrl: $('invite-url'),
  ended: $('ended'), endedText: $('ended-text'), findAnother: $('find-another'),
  rulesGate: $('rules-gate'), rulesGateText: $('rules-gate-text'), rulesAccept: $('rules-accept'),
  sendWait: $('send-wait'), escHint: $('esc-hint'),
  bannerText: $('banner-text'), retryNow: $('retry-now'), themeToggle: $('theme-toggle'),
  online: $('online'), onlineCount: $('online-count'), randomNick: $('random-nick'), joinLobby: $('join-lobby'),
  createDetails: $('create-details'),
  waitingCounts: $('waiting-counts'), waitingElapsed: $('waiting-elapsed'), waitingOffer: $('waiting-offer'),
  waitingOfferText: $('waiting-offer-text'), waitingJoin: $('waiting-join'), matchSound: $('match-sound'),
  slowChip: $('slow-chip'), lockedNote: $('locked-note'),
  membersOpen: $('members-open'), membersOpenCount: $('members-open-count'),
};
export const coarsePointer = window.matchMedia('(pointer: coarse)');
export const narrowScreen = window.matchMedia('(max-width: 720px)');

export const state = {
  limits: { nick_min: 2, nick_max: 24, message_max: 2000 },
  ws: null, wsOpened: false, lastFrameAt: 0, pingTimer: null,
  phase: 'idle', room: null, nick: null, lastId: null,
  resume: null, // the latest `resume` token: a dropped socket takes its session back with it
  kicked: false, blockedUntil: 0,
  backoffAttempt: 0, reconnectTimer: null, retryTimer: null, rejoinRetries: 0, joinTimer: null,
  rooms: new Map(), roomItems: new Map(), roomsLoading: false,
  members: [],
  shown: new Map(),   // message id -> element (each id shown once)
  pending: new Map(), // client_id -> { text, el, id }
  clientSeq: 0,
  typers: new Map(),  // nick -> expiry timer
  lastTypingSent: 0,
  unread: 0, mentions: 0, newBelow: 0, pinned: true, chatErrorTimer: null,
  mode: 'room',       // 'room' or 'roulette' (a pair made by the matchmaker)
  stranger: '', common: [], interests: [], strangerGone: false,
  invite: '',         // path of the current room's invite link, when it has one
  creating: null,     // { title, capacity, listed } while a `create` is unanswered
  invited: null,      // the room of a /?room=SLUG link, once looked up
  rules: null, rulesKey: '', infoLoaded: false, maxCapacity: 25, interestWaitSecs: 0,
  copiedTimer: null,
  // Sending (section 7): the server's `say` bucket as announced in `hello`, our copy of it, the
  // client ids waiting to go out (in order), the one sent and not yet answered, and a pause
  // after a refusal.
  rate: { burst: 8, per_second: 1 }, bucket: { tokens: 8, at: 0 },
  outbox: [], inFlight: null, holdUntil: 0, pumpTimer: null, countdownTimer: null,
  drafts: new Map(),  // chat key (room slug, or 'roulette') -> unsent text of the composer
  escArmed: false,    // a first Esc was pressed in the chat: the next one leaves or skips
  askedToConnect: false, // the socket being opened was asked for by the visitor (Join, Roulette…)
  ban: null, banTimer: null, // { reason, expires } from GET /api/status while banned
  online: null, looking: null, // people online and looking for a stranger, when the server says (GET /api/info)
  // Roulette waiting screen: when looking started, the ticking timer, the previous stranger (to
  // tell a re-pairing with the same person), the title flashing after a match in a hidden tab.
  waitingSince: 0, waitingTimer: null, lastStranger: '', flashTimer: null,
  // Room state as last known: locked (from /api/rooms/{slug}, a `room_updated` frame or a
  // `room_locked` refusal), slow mode period in seconds (0 = off, null = unknown but on).
  locked: false, slowmode: 0, roomPollTimer: null, linksAllowed: true, roomUpdates: false,
  editWindowSecs: 0, // `hello.limits.edit_window_secs`: own messages may be edited or deleted this long
  leaving: new Map(), // nick -> timer of a "left" line held back in case they come right back
};
