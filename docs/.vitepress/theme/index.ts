// The default theme, plus the site's own styles (code width, charts, zoomable screenshots).
import DefaultTheme from 'vitepress/theme';
import './custom.css';

export default DefaultTheme;
