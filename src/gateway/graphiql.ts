import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { GraphiQLOptions } from 'graphql-yoga';

/**
 * Runs in the page before GraphiQL: subscriptions go over graphql-ws, which authenticates in
 * `connection_init`, but GraphiQL sends its Headers tab only with HTTP requests. This reads the
 * active tab's `Authorization` header (GraphiQL keeps its tabs in localStorage; headers too, as
 * `shouldPersistHeaders` is on) whenever a socket connects, and sends it as a connection
 * parameter, the way src/gateway/ws.ts accepts it. A socket refused with 4403 is retried by the
 * client, with the headers as they are then.
 */
const AUTH_SCRIPT = `
function chatConnectionParams() {
  try {
    for (var i = 0; i < localStorage.length; i++) {
      var key = localStorage.key(i);
      if (!key || key.slice(-8) !== 'tabState') continue;
      var state = JSON.parse(localStorage.getItem(key));
      var tab = state.tabs[state.activeTabIndex] || {};
      var headers = JSON.parse(tab.headers || '{}');
      for (var name in headers) if (name.toLowerCase() === 'authorization') return { authorization: headers[name] };
    }
  } catch (e) {}
  return {};
}
function chatRenderGraphiQL(root, opts) {
  var extra = { connectionParams: chatConnectionParams };
  // GraphiQL fills the first tab's editors from its initial values, not from defaultTabs: without
  // this the first visit shows the sign-up example with empty variables, and running it fails.
  // Only on a first visit: later visits restore the tabs (and their variables) from localStorage.
  var stored = false;
  try { stored = localStorage.getItem('graphiql:tabState') !== null; } catch (e) {}
  if (!stored && opts.defaultTabs && opts.defaultTabs[0]) extra.variables = opts.defaultTabs[0].variables;
  return YogaGraphiQL.renderYogaGraphiQL(root, Object.assign({}, opts, extra));
}
`;

const SIGN_UP = `# 1. Sign up (or logIn), then put the token in the Headers tab below:
#    {"Authorization": "Bearer <token>"}
mutation SignUp($email: String!, $password: String!) {
  signUp(email: $email, password: $password, name: "Ann") {
    token
    user { id name }
  }
}
`;
const SEND = `# 2. Make a workspace (its #general channel comes with it) and send a message
mutation CreateWorkspace {
  createWorkspace(name: "Acme") {
    id
    channels { id name }
  }
}

mutation Send($channelId: ID!) {
  sendMessage(input: { channelId: $channelId, text: "Hello @here" }) {
    id
    text
    createdAt
  }
}
`;
const SUBSCRIBE = `# 3. Watch a channel live (over the WebSocket, authenticated with the Headers tab);
#    send from another tab and the message appears here
subscription Channel($channelId: ID!) {
  channel(channelId: $channelId) {
    __typename
    ... on MessagePosted {
      message { id text author { name } }
    }
  }
}
`;

/**
 * GraphiQL served from the npm package's own bundle (no CDN: it works offline and under a strict
 * CSP that allows inline scripts from this origin), with example tabs and authenticated
 * subscriptions.
 */
export function graphiqlOptions(): GraphiQLOptions {
  return {
    title: 'Chat API',
    subscriptionsProtocol: 'WS',
    shouldPersistHeaders: true,
    defaultTabs: [
      {
        query: SIGN_UP,
        variables: JSON.stringify({ email: 'ann@example.com', password: 'correct horse' }, null, 2),
      },
      { query: SEND, variables: JSON.stringify({ channelId: '<id of #general>' }, null, 2) },
      { query: SUBSCRIBE, variables: JSON.stringify({ channelId: '<id of #general>' }, null, 2) },
    ],
  };
}

/** The page: the package's GraphiQL with our connection parameters wired in. */
export function renderChatGraphiQL(opts: GraphiQLOptions): string {
  // The package's call first, then our script (which makes that call itself) in front.
  return renderGraphiQL(opts)
    .replace('YogaGraphiQL.renderYogaGraphiQL(', () => 'chatRenderGraphiQL(')
    .replace('<script>', () => `<script>${AUTH_SCRIPT}</script>\n      <script>`);
}
