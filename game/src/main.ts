// Boots the page: the model, the connection to the relay, the console, the menu, the panel of a
// broken law, the keys, and the Phaser game that draws it all.
import './page/style.css';
import { VILLAGE_TOKEN_META } from '../../shared/village.ts';
import type { VillageContext } from './game/context.ts';
import { createGame } from './game/main.ts';
import { VillageModel } from './model.ts';
import { Actions } from './page/actions.ts';
import { RelayConnection, villageUrl } from './page/connection.ts';
import { ConsolePanel } from './page/consolePanel.ts';
import { installKeys, takeFocusOnPointer } from './page/keys.ts';
import { LawPanel } from './page/lawPanel.ts';
import { PeerMenu } from './page/menu.ts';
import { installTestHook } from './page/testHook.ts';
import { ClockBar } from './page/clockBar.ts';
import { VillageTime } from './villageTime.ts';

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
}

const token = document.querySelector<HTMLMetaElement>(`meta[name="${VILLAGE_TOKEN_META}"]`)?.content || null;
const model = new VillageModel();
const time = new VillageTime(Date.now());
const conn = new RelayConnection(villageUrl(location, token), model, time);
const clockBar = new ClockBar(byId('village'), time, conn, model);
const actions = new Actions(conn, model);
const menu = new PeerMenu(byId('menu'), model, actions);
const lawPanel = new LawPanel(byId('law-panel'), model);
const consolePanel = new ConsolePanel(byId('console-out'), byId<HTMLFormElement>('console-form'), byId<HTMLInputElement>('console-input'), byId('conn'), model, actions);

const ctx: VillageContext = {
  model,
  time: { now: (wall) => time.now(wall) },
  actions,
  view: null,
  hud: null,
  ui: {
    openMenu: (peer, x, y) => menu.open(peer, x, y),
    closeMenu: () => menu.close(),
    menuClosedBy: (e) => menu.closedBy(e),
    helpOpen: () => game.scene.isActive('Help'),
    toggleHelp: (show) => {
      const open = game.scene.isActive('Help');
      const want = show ?? !open;
      if (want && !open && game.scene.getScene('Village')) game.scene.start('Help');
      if (!want && open) game.scene.stop('Help');
    },
  },
};

const game = createGame(byId('village'), ctx);

installKeys(window, {
  toggleAttacks: () => void actions.toggleAttacks(),
  toggleHelp: () => ctx.ui.toggleHelp(),
  closeOverlays: () => {
    menu.close();
    ctx.ui.toggleHelp(false);
  },
  heal: () => void actions.heal(),
  focusConsole: () => consolePanel.focus(),
  clock: { toggle: () => void clockBar.toggle(), slower: () => void clockBar.slower(), faster: () => void clockBar.faster(), step: () => void clockBar.step() },
});
takeFocusOnPointer(byId('village'), document);
installTestHook(window, ctx, game, clockBar);

function tick(): void {
  consolePanel.refresh();
  lawPanel.refresh();
  clockBar.refresh();
  requestAnimationFrame(tick);
}
requestAnimationFrame(tick);
conn.start();
