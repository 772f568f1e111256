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
import { LetterPanel } from './page/letterPanel.ts';
import { PeerMenu } from './page/menu.ts';
import { installTestHook } from './page/testHook.ts';

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
}

const token = document.querySelector<HTMLMetaElement>(`meta[name="${VILLAGE_TOKEN_META}"]`)?.content || null;
const model = new VillageModel();
const conn = new RelayConnection(villageUrl(location, token), model);
const actions = new Actions(conn, model);
const inspector = new InspectorPanel(byId('inspector'), model, (cmd) => conn.send(cmd));
const letterPanel = new LetterPanel(byId('letter-panel'), model, (cmd) => conn.send(cmd));
const menu = new PeerMenu(byId('menu'), model, actions, (peer) => inspector.open(peer));
const lawPanel = new LawPanel(byId('law-panel'), model);
const consolePanel = new ConsolePanel(byId('console-out'), byId<HTMLFormElement>('console-form'), byId<HTMLInputElement>('console-input'), byId('conn'), model, actions);

const ctx: VillageContext = {
  model,
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
  },
  heal: () => void actions.heal(),
  focusConsole: () => consolePanel.focus(),
});
takeFocusOnPointer(byId('village'), document);
installTestHook(window, ctx, game, { inspector: () => inspector.probe(), letter: () => letterPanel.probe() });

function tick(): void {
  consolePanel.refresh();
  lawPanel.refresh();
  inspector.refresh(Date.now());
  letterPanel.refresh();
  requestAnimationFrame(tick);
}
requestAnimationFrame(tick);
conn.start();
