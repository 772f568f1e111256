// Boots the page: the model, the connection to the relay, the console, the menu, the panel of a
// broken law, the inspector, the letter panel, the keys, and the Phaser game that draws it all.
import './page/style.css';
import { VILLAGE_TOKEN_META } from '../../shared/village.ts';
import type { VillageContext } from './game/context.ts';
import { createGame } from './game/main.ts';
import { VillageModel } from './model.ts';
import { Actions } from './page/actions.ts';
import { RelayConnection, villageUrl } from './page/connection.ts';
import { ConsolePanel } from './page/consolePanel.ts';
import { InspectorPanel } from './page/inspector.ts';
import { installKeys, takeFocusOnPointer } from './page/keys.ts';
import { LawPanel } from './page/lawPanel.ts';
import { installLessons } from './page/lessons/index.ts';
import { dropAction } from './page/letterDrop.ts';
import { LetterPanel } from './page/letterPanel.ts';
import { PeerMenu } from './page/menu.ts';
import { shieldFromGame } from './page/shield.ts';
import { installTestHook } from './page/testHook.ts';
import { shownModel, Timeline, VILLAGE_REPLAY_META } from './page/timeline.ts';
import { ClockBar } from './page/clockBar.ts';
import { VillageTime } from './villageTime.ts';

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
}

const token = document.querySelector<HTMLMetaElement>(`meta[name="${VILLAGE_TOKEN_META}"]`)?.content || null;
const replayFile = document.querySelector<HTMLMetaElement>(`meta[name="${VILLAGE_REPLAY_META}"]`)?.content || null;
const model = new VillageModel();
const time = new VillageTime(Date.now());
const conn = new RelayConnection(villageUrl(location, token), model, time);
const clockBar = new ClockBar(byId('stage'), time, conn, model);
const timeline = new Timeline(byId('timeline'), model, replayFile);
const actions = new Actions(conn, model, () => timeline.liveOnly());
const inspector = new InspectorPanel(byId('inspector'), model, (cmd) => conn.send(cmd));
const letterPanel = new LetterPanel(byId('letter-panel'), model, (cmd) => conn.send(cmd), [dropAction(time, model, (cmd) => conn.send(cmd))]);
const menu = new PeerMenu(byId('menu'), model, actions, (peer) => inspector.open(peer));
const lawPanel = new LawPanel(byId('law-panel'), model);
// A replay has no relay: its badge says so, and the panel's connection state goes nowhere.
const connBadge = replayFile === null ? byId('conn') : document.createElement('span');
const consolePanel = new ConsolePanel(byId('console-out'), byId<HTMLFormElement>('console-form'), byId<HTMLInputElement>('console-input'), connBadge, model, actions);
const lessons = installLessons(window, byId('lessons'), model, actions, conn, time);

const ctx: VillageContext = {
  // The scenes draw the live village, or the moment the timeline shows; the live one on village
  // time (frozen while the village is paused, slowed with it).
  model: shownModel(() => timeline.model()),
  now: () => timeline.now(time.now(Date.now())),
  actions,
  view: null,
  hud: null,
  ui: {
    openMenu: (peer, x, y) => menu.open(peer, x, y),
    closeMenu: () => {
      menu.close();
      letterPanel.close();
    },
    openLetter: (rid, x, y) => void letterPanel.open(rid, x, y),
    menuClosedBy: (e) => menu.closedBy(e),
    helpOpen: () => game.scene.isActive('Help'),
    toggleHelp: (show) => {
      const open = game.scene.isActive('Help');
      const want = show ?? !open;
      if (want && !open && game.scene.getScene('Village')) game.scene.start('Help');
      if (!want && open) game.scene.stop('Help');
    },
    liveOnly: () => timeline.liveOnly(),
  },
};

const game = createGame(byId('village'), ctx);

installKeys(window, {
  toggleAttacks: () => void actions.toggleAttacks(),
  toggleHelp: () => ctx.ui.toggleHelp(),
  closeOverlays: () => {
    menu.close();
    letterPanel.close();
    inspector.close();
    ctx.ui.toggleHelp(false);
    lessons.close();
  },
  lessons: () => lessons.toggle(),
  heal: () => void actions.heal(),
  focusConsole: () => consolePanel.focus(),
  clock: { toggle: () => void clockBar.toggle(), slower: () => void clockBar.slower(), faster: () => void clockBar.faster(), step: () => void clockBar.step() },
});
takeFocusOnPointer(byId('village'), document);
shieldFromGame(byId('menu'), byId('inspector'), byId('letter-panel'), byId('lessons'), byId('law-panel'), byId('timeline'), document.getElementById('clock-bar'));
installTestHook(window, ctx, game, timeline, { inspector: () => inspector.probe(), letter: () => letterPanel.probe() }, clockBar);

if (replayFile !== null) {
  // A replay: no relay to talk to. The console says so instead of sending.
  const input = byId<HTMLInputElement>('console-input');
  input.disabled = true;
  input.placeholder = 'replay: no cluster is running';
  input.title = timeline.liveOnly() ?? '';
  byId('conn').className = 'conn replay';
  byId('conn').textContent = 'replay · no relay';
  model.addConsoleLine('info', `Replay of ${replayFile}. No cluster is running: the console, clicks on villagers and the attacks are off. Drag the timeline under the village, or play it.`, Date.now());
}

function tick(): void {
  timeline.tick(Date.now());
  consolePanel.refresh();
  lawPanel.refresh();
  clockBar.refresh();
  inspector.refresh(Date.now());
  letterPanel.refresh();
  requestAnimationFrame(tick);
}
requestAnimationFrame(tick);
if (replayFile === null) conn.start();
